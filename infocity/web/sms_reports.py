"""Delivery reports of SMS, fetched by Kannel's smsbox from each message's ``dlr-url``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from infocity.core import sms

# Kannel's callback, not the apps' API: kept out of the OpenAPI document.
router = APIRouter(include_in_schema=False)


@router.get(sms.REPORT_PATH + "/{message_id}")
def sms_report(
    message_id: str,
    token: Annotated[str, Query(max_length=64)],
    status: int,
    at: Annotated[str, Query(max_length=20)] = "",
    answer: Annotated[str, Query(max_length=2000)] = "",
) -> dict[str, str]:
    """Kannel reports on an SMS (a GET: smsbox fetches the URL it was given)."""
    # %T and %A may come empty (a report the SMSC did not time): neither is required.
    when = int(at) if at.isdigit() else None
    report = sms.record_report(message_id, token, status, at=when, answer=answer)
    return {"id": message_id, "report": report.value}
