"""JSON routes of exam results (thin: parse, call one service function)."""

from __future__ import annotations

from fastapi import APIRouter, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from infocity.education import service
from infocity.education.schemas.exams import (
    ExamImportRead,
    ExamLookup,
    ExamResultsRead,
    ExamSubscriptionRead,
)
from infocity.web.deps import CurrentUser, client_ip, run_booking
from infocity.web.errors import error_responses

router = APIRouter(prefix="/education/exams", tags=["education"])

MAX_RESULTS_FILE_BYTES = 5 * 1024 * 1024


@router.post(
    "/results/lookup",
    response_model=ExamResultsRead,
    summary="Exam results by registration code and document number (no login)",
    responses=error_responses(404, 422, 429),
)
async def look_up_results(data: ExamLookup, request: Request) -> ExamResultsRead:
    # Results day is a rush of look-ups: they take the rush lane of the bookings (a thread
    # or two per process) rather than the pool of every synchronous endpoint, whose
    # hand-offs cost more than the look-up's own Python (docs/benchmarks.md).
    ip = client_ip(request)
    return await run_booking(request, lambda: service.look_up_exam_results(data, ip=ip))


@router.post(
    "/imports",
    status_code=201,
    response_model=ExamImportRead,
    summary="Import a results file (CSV); all or nothing, refused lines listed",
    responses=error_responses(401, 403, 409, 422),
)
async def import_results(actor: CurrentUser, file: UploadFile) -> ExamImportRead:
    data = await file.read(MAX_RESULTS_FILE_BYTES + 1)
    return await run_in_threadpool(service.import_exam_results, actor, data)


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=ExamSubscriptionRead,
    summary="Be notified when a participant's results are published",
    responses=error_responses(401, 403, 404, 422, 429),
)
def subscribe(data: ExamLookup, actor: CurrentUser, request: Request) -> ExamSubscriptionRead:
    return service.subscribe_to_exam_results(actor, data, ip=client_ip(request))


@router.get(
    "/subscriptions",
    response_model=list[ExamSubscriptionRead],
    summary="The participants the logged-in user is notified about",
    responses=error_responses(401, 403),
)
def my_subscriptions(actor: CurrentUser) -> list[ExamSubscriptionRead]:
    return service.list_exam_subscriptions(actor)
