"""FreeRADIUS with the repository's configuration answers from InfoCity's PostgreSQL: a
bound device is accepted with its session limits, anything else rejected; accounting is
recorded once whatever the repetition or order of the packets (PostgreSQL only: the
RADIUS deployment's database)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from infocity.connectivity import service
from infocity.connectivity.models import WifiSession
from infocity.connectivity.schemas import CodeConfirm, CodeRequest
from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from tests.connectivity_builders import make_wifi_city, sms_code
from tests.support.radius import radclient, require_freeradius, running_freeradius

BOUND = "3C:22:FB:12:34:56"
STRANGER = "3c22.fb65.4321"
PHONE = "+79161234567"


def _sessions() -> list[WifiSession]:
    with UnitOfWork() as uow:
        rows = list(uow.session.scalars(select(WifiSession).order_by(WifiSession.acct_session_id)))
        uow.session.expunge_all()
        return rows


@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_freeradius_authorizes_bound_devices_and_records_accounting_once(
    database: str,
) -> None:
    require_freeradius()
    city = make_wifi_city(hotspots=2, nas_address="127.0.0.1")
    sent = service.request_wifi_code(None, CodeRequest(mac=BOUND, hotspot=city.nas, phone=PHONE))
    service.confirm_wifi_code(None, CodeConfirm(challenge=sent.challenge, code=sms_code(PHONE)))
    secret = city.secret

    def access(mac: str, nas: str = city.nas, key: str = secret) -> dict[str, str] | str:
        reply = radclient(
            radius.auth_port,
            "auth",
            key,
            {
                "User-Name": mac,
                "User-Password": mac,
                "Calling-Station-Id": mac,
                "NAS-Identifier": nas,
            },
        )
        return reply.attributes if reply.code == "Access-Accept" else reply.code

    with running_freeradius(database, probe=(city.nas, secret)) as radius:
        accepted = access(BOUND)
        assert isinstance(accepted, dict), radius.log()
        assert 0 < int(accepted["Session-Timeout"]) <= 4 * 3600
        assert accepted["WISPr-Bandwidth-Max-Down"] == "10000000"
        assert access(STRANGER) == "Access-Reject"
        assert access("not-a-mac") == "Access-Reject"
        assert access(BOUND, nas="nas-unknown") == "Access-Reject"
        # A wrong secret garbles the password: rejected, and the reply is signed with the
        # real secret, so radclient (as a controller would) cannot even take it.
        assert access(BOUND, key="wrong-secret") == ""

        def account(status: str, session_id: str, **figures: str) -> str:
            return radclient(
                radius.acct_port,
                "acct",
                secret,
                {
                    "Acct-Status-Type": status,
                    "Acct-Session-Id": session_id,
                    "Calling-Station-Id": BOUND,
                    "NAS-Identifier": city.nas,
                    "NAS-IP-Address": "127.0.0.1",
                    **figures,
                },
            ).code

        # Repeated packets: each answered, the session recorded once.
        for status, figures in [
            ("Start", {}),
            ("Start", {}),
            ("Interim-Update", {"Acct-Input-Octets": "1000", "Acct-Session-Time": "600"}),
            ("Stop", {"Acct-Input-Octets": "5000", "Acct-Session-Time": "900"}),
            ("Stop", {"Acct-Input-Octets": "5000", "Acct-Session-Time": "900"}),
            # A late interim changes neither the state nor the counters.
            ("Interim-Update", {"Acct-Input-Octets": "1000", "Acct-Session-Time": "600"}),
        ]:
            assert account(status, "A1", **figures) == "Accounting-Response", radius.log()
        # Out of order: the Stop before the Start; the Start does not reopen it.
        assert account("Stop", "B2", **{"Acct-Output-Octets": "7"}) == "Accounting-Response"
        assert account("Start", "B2") == "Accounting-Response"
        # A session left open is closed, not deleted, when the controller restarts.
        assert account("Start", "C3") == "Accounting-Response"
        assert account("Accounting-On", "") == "Accounting-Response"

    first, second, third = _sessions()
    assert (first.state, first.close_cause, first.input_octets) == ("closed", "stop", 5000)
    assert first.session_seconds == 900
    assert first.mac == "3c-22-fb-12-34-56"
    assert (second.state, second.output_octets) == ("closed", 7)
    assert (third.state, third.close_cause) == ("closed", "nas_reboot")
    later = utcnow() + timedelta(hours=1)
    assert service.close_stale_sessions(SYSTEM, now=later) == 0
