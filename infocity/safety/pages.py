"""Pages of school video surveillance (thin: call one service function, render).

Security staff and city administrators: /safety (their buildings and the current
outages), /safety/buildings/{id} (cameras and outages of one building).
Analysts and city administrators: /safety/reports (uptime, coverage, the outage map) and
/safety/reports.csv.
City administrators: /safety/cameras/import (a CSV of cameras, refused whole with its
problems by line) and /safety/staff (which security staff guard which building).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.core.auth import Action, allowed
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_, current_locale, gettext
from infocity.safety import errors, service
from infocity.safety.chart import districts_svg
from infocity.safety.rules import HEALTH_LABELS, PLACEMENT_LABELS, PROBE_STATUS_LABELS
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    IdPath,
    LoggedIn,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

LABELS = {
    "health_labels": HEALTH_LABELS,
    "placement_labels": PLACEMENT_LABELS,
    "status_labels": PROBE_STATUS_LABELS,
}
DEFAULT_DAYS = 7
BELOW = 0.95  # buildings under this uptime are listed


@router.get("/safety", response_class=HTMLResponse)
def my_buildings(request: Request, actor: LoggedIn) -> HTMLResponse:
    buildings = service.list_my_buildings(actor)
    outages = service.current_outages(actor)
    return render(
        request,
        "safety/index.html",
        {
            "buildings": buildings,
            "outages": outages,
            "may_report": allowed(actor, Action.SAFETY_REPORTS),
            "may_manage": allowed(actor, Action.SAFETY_REGISTRY_MANAGE),
            **LABELS,
        },
    )


@router.get("/safety/buildings/{building_id}", response_class=HTMLResponse)
def building(request: Request, building_id: IdPath, actor: LoggedIn) -> HTMLResponse:
    status = service.get_building_status(actor, building_id)
    return render(request, "safety/building.html", {"status": status, **LABELS})


def _period(request: Request) -> tuple[datetime, datetime]:
    """The report's days from the query (``start``, ``end`` as YYYY-MM-DD, city time)."""
    today = city_today()
    try:
        first = datetime.fromisoformat(request.query_params.get("start") or "").date()
    except ValueError:
        first = today - timedelta(days=DEFAULT_DAYS - 1)
    try:
        last = datetime.fromisoformat(request.query_params.get("end") or "").date()
    except ValueError:
        last = today
    start = datetime.combine(first, time(), city_tz())
    end = datetime.combine(last + timedelta(days=1), time(), city_tz())
    return start, end


@router.get("/safety/reports", response_class=HTMLResponse)
def reports(request: Request, actor: LoggedIn) -> HTMLResponse:
    start, end = _period(request)
    try:
        report = service.uptime_report(actor, start, end)
        error = None
    except InvalidInput as exc:
        start, end = _period_default()
        report, error = service.uptime_report(actor, start, end), exc.translated()
    coverage = service.coverage(actor, start, end)
    title = N_("Cameras out of order by district")
    english = current_locale() == "en"
    return render(
        request,
        "safety/reports.html",
        {
            "report": report,
            "coverage": coverage,
            "below": [b for b in report.buildings if b.uptime is not None and b.uptime < BELOW],
            "threshold": BELOW,
            "outages": service.current_outages(actor),
            "map": districts_svg(service.district_states(actor), title, english),
            "start": start.date(),
            "last": (end - timedelta(days=1)).date(),
            "error": error,
            "generated_at": utcnow(),
        },
    )


def _period_default() -> tuple[datetime, datetime]:
    today = city_today()
    start = datetime.combine(today - timedelta(days=DEFAULT_DAYS - 1), time(), city_tz())
    return start, datetime.combine(today + timedelta(days=1), time(), city_tz())


@router.get("/safety/reports.csv")
def reports_csv(request: Request, actor: LoggedIn) -> Response:
    start, end = _period(request)
    report = service.uptime_report(actor, start, end)
    return Response(
        service.uptime_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="camera-uptime.csv"'},
    )


MAX_FILE_BYTES = 5 * 1024 * 1024
NOT_TEXT = N_("The file must be UTF-8 text (CSV).")
TOO_BIG = N_("The file is larger than 5 MB.")


def _import_page(request: Request, *, status: int = 200, **context: Any) -> HTMLResponse:
    context = {"imported": None, "refused_rows": [], "error": None, **context}
    return render(request, "safety/cameras_import.html", context, status_code=status)


@router.get("/safety/cameras/import", response_class=HTMLResponse)
def import_form(request: Request, actor: LoggedIn) -> HTMLResponse:
    if not allowed(actor, Action.SAFETY_REGISTRY_MANAGE):
        service.import_cameras(actor, "")  # refuses, in the user's language
    return _import_page(request)


@router.post("/safety/cameras/import", response_class=HTMLResponse)
async def import_file(request: Request, actor: LoggedIn) -> HTMLResponse:
    form = await request.form()  # already read (and limited) for the CSRF check
    upload = form.get("file")
    data = await upload.read(MAX_FILE_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not allowed(actor, Action.SAFETY_REGISTRY_MANAGE):
        service.import_cameras(actor, "")  # refuses, in the user's language
    try:
        if len(data) > MAX_FILE_BYTES:
            raise UnicodeError(TOO_BIG)
        text = data.decode("utf-8-sig")
    except UnicodeError:
        message = TOO_BIG if len(data) > MAX_FILE_BYTES else NOT_TEXT
        return await run_in_threadpool(_import_page, request, status=422, error=gettext(message))
    try:
        imported = await run_in_threadpool(service.import_cameras, actor, text)
    except errors.CameraFileRefused as exc:
        return await run_in_threadpool(
            _import_page,
            request,
            status=422,
            refused_rows=exc.translated_rows(),
            error=exc.translated(),
        )
    except AppError as exc:
        reraise_refusal(exc)
        return await run_in_threadpool(
            _import_page, request, status=exc.status, error=exc.translated()
        )
    return await run_in_threadpool(_import_page, request, imported=imported)


STAFF_NOTICES = {"assigned": N_("The security staff member now guards the building.")}


def _staff_page(
    request: Request, actor: LoggedIn, *, status: int = 200, error: str | None = None
) -> HTMLResponse:
    return render(
        request,
        "safety/staff.html",
        {
            "board": service.staff_board(actor),
            "error": error,
            "notice": notice(STAFF_NOTICES, request.query_params.get("done")),
        },
        status_code=status,
    )


@router.get("/safety/staff", response_class=HTMLResponse)
def staff(request: Request, actor: LoggedIn) -> HTMLResponse:
    return _staff_page(request, actor)


@router.post("/safety/staff", response_class=HTMLResponse)
def assign_staff(request: Request, actor: LoggedIn, form: Form) -> Response:
    try:
        building_id = int(form.get("building_id") or 0)
        user_id = int(form.get("user_id") or 0)
        service.assign_building_staff(actor, building_id, user_id)
    except ValueError:
        return _staff_page(request, actor, status=422, error=gettext(CHOOSE_BOTH))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        message = exc.translated() if isinstance(exc, AppError) else gettext(CHOOSE_BOTH)
        return _staff_page(request, actor, status=refusal_status(exc), error=message)
    return redirect("/safety/staff?done=assigned")


CHOOSE_BOTH = N_("Choose a building and a security staff member.")
