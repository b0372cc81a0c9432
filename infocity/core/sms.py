"""SMS through Kannel: the ``sendsms`` request, what its answers mean, and the delivery
reports Kannel sends back through ``dlr-url``.

The SMS channel (``infocity.core.channels.send_sms``) asks Kannel's smsbox to send with
``sendsms_headers``, judges the answer with ``refusal`` and, before a repeated attempt,
asks ``reported`` whether Kannel already took an earlier one. Kannel then fetches the
message's report URL (``report_url``) once per report; ``record_report`` keeps the latest
on the outbox row.

The report URL carries a token, an HMAC of the message id under ``INFOCITY_SECRET_KEY``:
smsbox fetches ``dlr-url`` as a plain GET and cannot add a header, so the secret has to
be in the URL; made per message, a URL that leaks (Kannel's logs keep them) allows
reports on that one message only, and Kannel's configuration holds no InfoCity secret.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from prometheus_client import Counter
from sqlalchemy import or_, select, update

from infocity.core.db import get_engine, utcnow
from infocity.core.errors import Forbidden, InvalidInput, NotFound
from infocity.core.i18n import N_
from infocity.core.models import OutboxMessage
from infocity.core.schemas import CONTROL_CHARACTERS
from infocity.core.security import constant_time_equal, hmac_sha256
from infocity.core.settings import get_settings
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

REPORT_PATH = "/api/v1/sms/reports"

REPORTS = Counter(
    "infocity_sms_reports_total", "SMS delivery reports recorded, by report.", ["report"]
)


class Report(StrEnum):
    """What the operator's network last said of an SMS Kannel took."""

    ACCEPTED = "accepted"  # the operator's SMSC took it
    BUFFERED = "buffered"  # the SMSC keeps it for a phone that is off or out of reach
    DELIVERED = "delivered"  # the phone has it
    FAILED = "failed"  # undeliverable, or refused by the SMSC


# Kannel's report types (the %d of dlr-url): 1 delivered, 2 undelivered, 4 buffered,
# 8 taken by the SMSC, 16 refused by the SMSC.
KANNEL_REPORTS = {
    1: Report.DELIVERED,
    2: Report.FAILED,
    4: Report.BUFFERED,
    8: Report.ACCEPTED,
    16: Report.FAILED,
}
DLR_MASK = sum(KANNEL_REPORTS)  # ask for every one of them

# Which report may replace which. smsbox fetches the report URLs of one message
# concurrently, so "accepted" may arrive after "delivered": a later stage is never
# replaced by an earlier one, a final report by nothing, and a repeat changes nothing.
TRANSITIONS: dict[Report | None, frozenset[Report]] = {
    None: frozenset(Report),
    Report.ACCEPTED: frozenset({Report.BUFFERED, Report.DELIVERED, Report.FAILED}),
    Report.BUFFERED: frozenset({Report.DELIVERED, Report.FAILED}),
    Report.DELIVERED: frozenset(),
    Report.FAILED: frozenset(),
}

# Text a GSM phone shows in its 7-bit alphabet (160 characters a part); anything else is
# sent as UCS-2 (70 a part), so that Cyrillic arrives intact.
_GSM_SAFE = frozenset(
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz\n"
)


class UnknownSmsMessage(NotFound):
    def __init__(self) -> None:
        super().__init__("sms_message_unknown", N_("No SMS with this message id was sent."))


class SmsReportRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__("sms_report_token_invalid", N_("The delivery report's token is wrong."))


class UnknownSmsReport(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "sms_report_status_unknown",
            N_("Unknown delivery report type: expected 1, 2, 4, 8 or 16."),
            field="status",
        )


class Refusal(NamedTuple):
    """Why Kannel did not take a message, and whether trying again can help."""

    reason: str
    permanent: bool


def report_token(message_id: str) -> str:
    """The secret of ``message_id``'s report URL."""
    return hmac_sha256(get_settings().secret_key, f"sms-report:{message_id}".encode())[:32]


def report_url(message_id: str) -> str:
    """The ``dlr-url`` of a message: Kannel fills in %d (type), %T (time) and %A (the
    SMSC's answer) each time it reports."""
    settings = get_settings()
    base = (settings.sms_report_base_url or settings.base_url).rstrip("/")
    return (
        f"{base}{REPORT_PATH}/{message_id}?token={report_token(message_id)}"
        "&status=%d&at=%T&answer=%A"
    )


def coding(text: str) -> str:
    """Kannel's ``coding``: 0 (GSM 7-bit) for plain Latin text, 2 (UCS-2) otherwise."""
    return "0" if set(text) <= _GSM_SAFE else "2"


def sendsms_headers(message_id: str, phone: str, text: str) -> dict[str, str]:
    """The headers of smsbox's ``POST /cgi-bin/sendsms`` for one SMS (its body is the
    text, UTF-8), with its delivery reports. In headers rather than the query, the
    password, the number and the text stay out of every log of URLs on the way."""
    settings = get_settings()
    return {
        "Content-Type": "text/plain; charset=UTF-8",
        "X-Kannel-Username": settings.sms_gateway_username or "",
        "X-Kannel-Password": settings.sms_gateway_password or "",
        "X-Kannel-From": settings.sms_sender,
        "X-Kannel-To": phone,
        "X-Kannel-Coding": coding(text),
        "X-Kannel-DLR-Mask": str(DLR_MASK),
        "X-Kannel-DLR-Url": report_url(message_id),
    }


def refusal(status: int, answer: str) -> Refusal | None:
    """What smsbox's answer to ``sendsms`` means: None when it took the message (202
    "0: Accepted for delivery", or "3: Queued for later delivery" while no SMSC is up)."""
    if 200 <= status < 300:
        return None
    reason = f"Kannel {status}: {answer.strip()[:200]}"
    if status == 403 and "authorization" in answer.lower():
        # Our username or password: retry once the operator has fixed the configuration.
        return Refusal(reason, permanent=False)
    # 503 "4: Temporal failure" and other 5xx are Kannel's own trouble; other 4xx refuse
    # this message (a number, a text or a sender it will never take).
    return Refusal(reason, permanent=not (status >= 500 or status in (408, 429)))


def reported(message_id: str) -> bool:
    """Whether Kannel reported on the message already, so that an earlier attempt reached
    it (the worker died or timed out before recording it) and sending again would double."""
    with get_engine().connect() as connection:
        report = connection.scalar(
            select(OutboxMessage.report).where(OutboxMessage.id == message_id)
        )
    return report is not None


def _report_time(at: int | None, now: datetime) -> datetime:
    """Kannel's time of the report, unless it is missing or implausible (a wrong clock)."""
    if at is None:
        return now
    try:
        when = datetime.fromtimestamp(at, UTC)
    except (OverflowError, OSError, ValueError):
        return now
    return when if abs(when - now) < timedelta(days=7) else now


def record_report(
    message_id: str,
    token: str,
    status: int,
    *,
    at: int | None = None,
    answer: str = "",
    now: datetime | None = None,
) -> Report:
    """Kannel reports on an SMS: keep the report on the message; return the report on
    record (a repeated or stale report changes nothing)."""
    if not constant_time_equal(token, report_token(message_id)):
        raise SmsReportRefused()
    report = KANNEL_REPORTS.get(status)
    if report is None:
        raise UnknownSmsReport()
    now = now or utcnow()
    earlier = [r for r, following in TRANSITIONS.items() if r is not None and report in following]
    uow = UnitOfWork()
    with uow:
        changed = dml(
            uow.session,
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                OutboxMessage.channel == "sms",
                or_(OutboxMessage.report.is_(None), OutboxMessage.report.in_(earlier)),
            )
            .values(
                report=report.value,
                reported_at=_report_time(at, now),
                report_detail=CONTROL_CHARACTERS.sub("", answer)[:200] or None,
            ),
        ).rowcount
        if changed:
            uow.commit()
            REPORTS.labels(report.value).inc()
            return report
        current = uow.session.execute(
            select(OutboxMessage.report).where(
                OutboxMessage.id == message_id, OutboxMessage.channel == "sms"
            )
        ).one_or_none()
        if current is None:
            raise UnknownSmsMessage()
        return Report(current.report)
