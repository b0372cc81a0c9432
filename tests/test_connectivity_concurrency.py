"""A code is used once, however many requests carry it at the same instant (PostgreSQL,
where requests really run at once)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from infocity.connectivity import service
from infocity.connectivity.models import WifiDevice, WifiIdentityLog
from infocity.connectivity.schemas import BindingRead, CodeConfirm, CodeRequest
from infocity.core.errors import AppError
from infocity.core.uow import UnitOfWork
from tests.connectivity_builders import make_wifi_city, sms_code

PHONE = "+79161234567"


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_code_sent_at_once_by_four_requests_binds_once(database: str) -> None:
    city = make_wifi_city(hotspots=1)
    sent = service.request_wifi_code(
        None, CodeRequest(mac="3c-22-fb-12-34-56", hotspot=city.nas, phone=PHONE)
    )
    data = CodeConfirm(challenge=sent.challenge, code=sms_code(PHONE))
    start = threading.Barrier(4)
    results: list[BindingRead | str] = []

    def confirm() -> None:
        start.wait()
        try:
            results.append(service.confirm_wifi_code(None, data))
        except AppError as refusal:
            results.append(refusal.code)

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r if isinstance(r, str) else "bound" for r in results) == [
        "bound",
        *["wifi_code_not_valid"] * 3,
    ]
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(func.count()).select_from(WifiDevice)) == 1
        assert uow.session.scalar(select(func.count()).select_from(WifiIdentityLog)) == 1
