"""Pages of school video surveillance (thin: call one service function, render).

Security staff and city administrators: /safety (their buildings and the current
outages), /safety/buildings/{id} (cameras and outages of one building).
Analysts and city administrators: /safety/reports (uptime, coverage, the outage map) and
/safety/reports.csv.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from infocity.core.auth import Action, allowed
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import InvalidInput
from infocity.core.i18n import N_, current_locale
from infocity.safety import service
from infocity.safety.chart import districts_svg
from infocity.safety.rules import HEALTH_LABELS, PLACEMENT_LABELS, PROBE_STATUS_LABELS
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import IdPath, LoggedIn

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
