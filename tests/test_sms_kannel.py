"""SMS through Kannel: sendsms, the fake SMSC's side, and delivery reports through dlr-url."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import update

from infocity.core import sms
from infocity.core.db import utcnow
from infocity.core.models import OutboxMessage
from infocity.core.outbox import Recipient, notify
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.support.kannel import Kannel, messages_in_log
from tests.support.servers import wait_until
from tests.support.users import add_citizen

TEMPLATE = "portal/notifications/service_notice.txt"


def queue_sms(uow: UnitOfWork, citizen: Recipient, title: str, link: str | None) -> OutboxMessage:
    with uow:
        [message] = notify(
            uow.session,
            citizen,
            kind="service_notice",
            template=TEMPLATE,
            context={"title": title, "name": "Иван", "text": "Передайте показания."},
            link=link,
            channels=["sms"],
        )
        uow.commit()
        uow.session.expunge(message)
        return message


def outbox_row(uow: UnitOfWork, message_id: str) -> OutboxMessage:
    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def make_due(uow: UnitOfWork) -> None:
    with uow:
        uow.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
        uow.commit()


def report_query(message_id: str, status: int) -> str:
    """The query Kannel fetches for a report of type ``status``."""
    url = sms.report_url(message_id).replace("%d", str(status)).replace("%T", "").replace("%A", "")
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


def test_kannel_answers_and_the_request_it_gets() -> None:
    # smsbox's answers: taken, our configuration, its trouble, a message it never takes.
    assert sms.refusal(202, "0: Accepted for delivery") is None
    assert sms.refusal(202, "3: Queued for later delivery") is None
    assert sms.refusal(403, "Authorization failed for sendsms") == (
        "Kannel 403: Authorization failed for sendsms",
        False,
    )
    assert sms.refusal(503, "4: Temporal failure, try again later.") is not None
    assert not sms.refusal(503, "4: Temporal failure").permanent  # type: ignore[union-attr]
    assert sms.refusal(400, "Missing receiver number, rejected").permanent  # type: ignore[union-attr]
    assert sms.refusal(403, "Number(s) has/have been denied").permanent  # type: ignore[union-attr]
    # Cyrillic goes as UCS-2, plain Latin text in the GSM alphabet.
    assert sms.coding("Код 123456") == "2"
    assert sms.coding("Code 123456\nhttp://city.example/a?b=1") == "0"
    assert sms.coding("Price: 5€") == "2"
    headers = sms.sendsms_headers("ab" * 16, "+79001234567", "Код 123456")
    assert headers["Content-Type"] == "text/plain; charset=UTF-8"
    assert (headers["X-Kannel-To"], headers["X-Kannel-DLR-Mask"]) == ("+79001234567", "31")
    dlr = urlsplit(headers["X-Kannel-DLR-Url"])
    assert dlr.path == f"/api/v1/sms/reports/{'ab' * 16}"
    query = parse_qs(dlr.query)
    assert query["token"] == [sms.report_token("ab" * 16)]
    assert (query["status"], query["at"], query["answer"]) == (["%d"], ["%T"], ["%A"])
    assert sms.report_token("ab" * 16) != sms.report_token("cd" * 16)


def test_the_fake_smsc_output_is_read_back_whole() -> None:
    log = "\n".join(
        [
            "x DEBUG: Got message 1: <InfoCity +79001 text Subject line>",
            "x DEBUG: Got message 2: <http://city.example/a b>",
            "x DEBUG: Got message 3: <InfoCity +79002 ucs-2 %04%1F%04%40%048%00+%00x>",
            "x DEBUG: Got message 4: <InfoCity +79001 udh %05%00%03%07%02%02 data %04%30>",
            "x DEBUG: Got message 5: <InfoCity +79001 udh %05%00%03%07%02%01 data %04%1F%00+>",
        ]
    )
    assert messages_in_log(log) == [
        ("+79001", "Subject line\nhttp://city.example/a b"),
        ("+79002", "При x"),
        ("+79001", "П а"),
    ]


def test_delivery_reports_move_forward_only_and_refuse_strangers(
    client: TestClient, uow: UnitOfWork
) -> None:
    citizen = add_citizen(uow, email=False, phone=True)
    message = queue_sms(uow, citizen, "Показания", None)

    def failed_count() -> float:
        return REGISTRY.get_sample_value("infocity_sms_reports_total", {"report": "failed"}) or 0

    failures_before = failed_count()
    answer = client.get(report_query(message.id, 4))
    assert answer.json() == {"id": message.id, "report": "buffered"}
    buffered = outbox_row(uow, message.id)
    assert buffered.report == "buffered"
    assert buffered.reported_at is not None
    # The SMSC's words are kept; the report's own time (%T) is the time on record.
    at = int((utcnow() - timedelta(minutes=3)).timestamp())
    answer = client.get(report_query(message.id, 16) + f"&at={at}&answer=err:0B")
    assert answer.json()["report"] == "failed"
    failed = outbox_row(uow, message.id)
    assert (failed.report, failed.report_detail) == ("failed", "err:0B")
    assert failed.reported_at is not None
    assert int(failed.reported_at.timestamp()) == at
    # A final report stays: neither a late "accepted" nor a "delivered" replaces it.
    for late in (8, 1, 16):
        assert client.get(report_query(message.id, late)).json()["report"] == "failed"
    assert outbox_row(uow, message.id).reported_at == failed.reported_at
    assert failed_count() == failures_before + 1  # counted once

    other = report_query(message.id, 1).replace(message.id, "0" * 32, 1)
    refused = client.get(other)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "sms_report_token_invalid"
    gone = "f" * 32
    unknown = client.get(
        f"/api/v1/sms/reports/{gone}?token={sms.report_token(gone)}&status=1",
        headers={"Accept-Language": "ru"},
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "sms_message_unknown"
    assert "Нет SMS" in unknown.json()["error"]["message"]
    strange = client.get(report_query(message.id, 3))
    assert strange.status_code == 422
    assert strange.json()["error"]["code"] == "sms_report_status_unknown"

    # smsbox fetches the reports of one message at once: whatever the order they are
    # recorded in, the message ends delivered.
    for _ in range(5):
        racing = queue_sms(uow, citizen, "Показания", None)
        reports = [(racing.id, sms.report_token(racing.id), status) for status in (8, 1, 4)]
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda report: sms.record_report(*report), reports))
        assert outbox_row(uow, racing.id).report == "delivered"


def test_an_sms_goes_through_kannel_and_its_report_comes_back(
    kannel: Kannel, live_server: str, uow: UnitOfWork, settings_env: pytest.MonkeyPatch
) -> None:
    for name, value in kannel.environment().items():
        settings_env.setenv(name, value)
    settings_env.setenv("INFOCITY_SMS_GATEWAY_PASSWORD", "not-the-password")
    settings_env.setenv("INFOCITY_BASE_URL", "https://city.example")
    settings_env.setenv("INFOCITY_SMS_REPORT_BASE_URL", live_server)
    get_settings.cache_clear()
    russian = add_citizen(uow, email=False, phone=True)
    english = add_citizen(uow, locale="en", email=False, phone=True)
    assert russian.phone
    assert english.phone
    in_russian = queue_sms(uow, russian, "Показания счётчиков", "/housing/readings")
    in_english = queue_sms(uow, english, "Meter readings", "/housing/readings")
    worker = Worker("test")

    # A wrong password is the operator's to fix: retried, not given up on.
    worker.deliver_due()
    refused = outbox_row(uow, in_russian.id)
    assert (refused.status, refused.last_error) == (
        "retry",
        "Kannel 403: Authorization failed for sendsms",
    )
    settings_env.setenv("INFOCITY_SMS_GATEWAY_PASSWORD", kannel.password)
    get_settings.cache_clear()
    make_due(uow)
    assert worker.deliver_due() == 2

    # The phones got the text intact: Cyrillic (UCS-2, in two parts) and a Latin text
    # with its line break.
    assert kannel.wait_for(russian.phone) == [
        "Уведомление городской службы: Показания счётчиков\nhttps://city.example/housing/readings"
    ]
    assert kannel.wait_for(english.phone) == [
        "City service notice: Meter readings\nhttps://city.example/housing/readings"
    ]
    # Kannel's reports came back to the site and are on the messages.
    for message in (in_russian, in_english):
        wait_until(
            lambda m=message: outbox_row(uow, m.id).report == "delivered",  # type: ignore[misc]
            kannel.bearerbox,
        )
        row = outbox_row(uow, message.id)
        assert row.status == "sent"
        # Kannel's time of the report (it runs on the real clock, whatever the test's).
        assert row.reported_at is not None

    # A worker that died after Kannel took the SMS: the next attempt sees the report and
    # sends nothing, so the phone gets one SMS.
    with uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == in_english.id)
            .values(status="sending", lease_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    assert worker.deliver_due() == 1
    assert outbox_row(uow, in_english.id).status == "sent"
    # A later SMS arriving proves the earlier one was not sent again (one SMSC, in order).
    queue_sms(uow, english, "Done", None)
    worker.deliver_due()
    assert kannel.wait_for(english.phone, 2)[1].startswith("City service notice: Done\n")
    assert len(kannel.received(english.phone)) == 2
