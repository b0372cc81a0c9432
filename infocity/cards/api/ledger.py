"""JSON routes of the pupil's money (thin: parse, call one service function)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, UploadFile
from starlette.concurrency import run_in_threadpool

from infocity.cards import service
from infocity.cards.schemas.cards import AutoTopUpRule, PupilRead
from infocity.cards.schemas.ledger import (
    LedgerEntryRead,
    LedgerFilter,
    PaymentImportRead,
    Refund,
    SpendingRules,
    TopUp,
)
from infocity.web.deps import CurrentUser
from infocity.web.errors import error_responses
from infocity.web.forms import IdPath

router = APIRouter(prefix="/cards", tags=["cards"])

MAX_PAYMENT_FILE_BYTES = 5 * 1024 * 1024


@router.post(
    "/pupils/{pupil_id}/top-ups",
    response_model=PupilRead,
    summary="Put money on the pupil's card (kopecks; the payment reference counts once)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def top_up(pupil_id: IdPath, data: TopUp, actor: CurrentUser) -> PupilRead:
    return service.top_up_card(actor, pupil_id, data)


@router.put(
    "/pupils/{pupil_id}/rules",
    response_model=PupilRead,
    summary="The daily limit and banned categories (legal representatives)",
    responses=error_responses(401, 403, 404, 422),
)
def spending_rules(pupil_id: IdPath, data: SpendingRules, actor: CurrentUser) -> PupilRead:
    return service.set_spending_rules(actor, pupil_id, data)


@router.put(
    "/pupils/{pupil_id}/auto-top-up",
    response_model=PupilRead,
    summary="The automatic top-up: trigger, amount, at most once per period (legal "
    "representatives; no trigger turns it off)",
    responses=error_responses(401, 403, 404, 422),
)
def auto_top_up(pupil_id: IdPath, data: AutoTopUpRule, actor: CurrentUser) -> PupilRead:
    return service.set_auto_top_up(actor, pupil_id, data)


@router.get(
    "/pupils/{pupil_id}/ledger",
    response_model=list[LedgerEntryRead],
    summary="The pupil's ledger, newest first",
    responses=error_responses(401, 403, 404, 422),
)
def ledger(
    pupil_id: IdPath, filters: Annotated[LedgerFilter, Depends()], actor: CurrentUser
) -> list[LedgerEntryRead]:
    return service.list_ledger(actor, pupil_id, filters)


@router.post(
    "/refunds",
    status_code=201,
    response_model=LedgerEntryRead,
    summary="Give back a canteen purchase (school staff)",
    responses=error_responses(401, 403, 404, 409, 422),
)
def refund(data: Refund, actor: CurrentUser) -> LedgerEntryRead:
    return service.refund_purchase(actor, data)


@router.post(
    "/payment-files",
    status_code=201,
    response_model=PaymentImportRead,
    summary="Import a bank's payment file (reference;card UID;roubles[;paid at])",
    responses=error_responses(401, 403, 422),
)
async def import_payments(actor: CurrentUser, file: UploadFile) -> PaymentImportRead:
    data = await file.read(MAX_PAYMENT_FILE_BYTES + 1)
    return await run_in_threadpool(service.import_payments, actor, data)
