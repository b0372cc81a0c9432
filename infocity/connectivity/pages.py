"""Pages of the city's Wi-Fi (thin: parse the form, call one service function, render).

Anyone: /wifi/portal (the captive portal the controller redirects a new device to, with
``mac`` and ``hotspot`` in the address), and its steps. Wi-Fi operators, analysts:
/wifi/operator (networks, hotspots, the hotspots file) and /wifi/operator/stats.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.connectivity import chart, errors, service
from infocity.connectivity.schemas import (
    BindingRead,
    CodeConfirm,
    CodeRequest,
    DeviceBind,
    HotspotImportRead,
)
from infocity.core.auth import Action, Principal, allowed
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.core.settings import get_settings
from infocity.web.deps import client_ip, csrf_protect, page_principal, render
from infocity.web.forms import Form, FormErrors, logged_in, refusal_status, reraise_refusal

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

MAX_FILE_BYTES = 5 * 1024 * 1024
STATS_DAYS = 14
CONNECT_TITLE = N_("Connections a day")
DEVICES_TITLE = N_("Unique devices a day")
HOTSPOTS_TITLE = N_("Connections by hotspot")


def _portal(request: Request, *, status: int = 200, **context: Any) -> HTMLResponse:
    actor: Principal | None = page_principal(request)
    context.setdefault("values", {})
    context.setdefault("errors", FormErrors())
    context.setdefault("step", "phone")
    return render(
        request,
        "connectivity/portal.html",
        {
            "may_bind_as_citizen": actor is not None and allowed(actor, Action.WIFI_BIND_OWN),
            "known": service.known_identity(request.cookies.get(service.IDENTITY_COOKIE)),
            **context,
        },
        status_code=status,
    )


def _device(form: dict[str, str]) -> dict[str, str]:
    return {"mac": form.get("mac", ""), "hotspot": form.get("hotspot", "")}


@router.get("/wifi/portal", response_class=HTMLResponse)
def portal(request: Request, mac: str = "", hotspot: str = "") -> HTMLResponse:
    if not mac and not hotspot:  # not from a controller's redirect: how to get here
        return _portal(request, step="broken")
    try:
        place = service.open_portal(page_principal(request), mac, hotspot)
    except AppError as exc:
        return _portal(request, status=exc.status, step="broken", error=exc.translated())
    step = "connected" if place.bound_until else "phone"
    return _portal(request, step=step, place=place, values={"mac": mac, "hotspot": hotspot})


@router.post("/wifi/portal/code", response_class=HTMLResponse)
def request_code(request: Request, form: Form) -> HTMLResponse:
    values = {**_device(form), "phone": form.get("phone", "")}
    try:
        sent = service.request_wifi_code(
            page_principal(request), CodeRequest(**values), ip=client_ip(request)
        )
    except (AppError, ValidationError) as exc:
        return _portal(
            request,
            status=refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, ("phone",)),
        )
    return _portal(request, step="code", values={**values, "challenge": sent.challenge}, sent=sent)


def _bound(request: Request, binding: BindingRead) -> HTMLResponse:
    """The done page; the cookie keeps the person known for their next device or MAC."""
    response = _portal(request, step="done", binding=binding)
    response.set_cookie(
        service.IDENTITY_COOKIE,
        service.identity_cookie(binding.identity_id),
        max_age=service.IDENTITY_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
    )
    return response


@router.post("/wifi/portal/confirm", response_class=HTMLResponse)
def confirm_code(request: Request, form: Form) -> HTMLResponse:
    values = {**_device(form), "challenge": form.get("challenge", "")}
    try:
        binding = service.confirm_wifi_code(
            page_principal(request),
            CodeConfirm(challenge=values["challenge"], code=form.get("code", "")),
        )
    except (AppError, ValidationError) as exc:
        step = "code" if isinstance(exc, errors.CodeWrong | errors.InvalidCode) else "phone"
        return _portal(
            request,
            status=refusal_status(exc),
            step=step,
            values=values,
            errors=FormErrors.of(exc, ("code", "phone")),
        )
    return _bound(request, binding)


@router.post("/wifi/portal/connect", response_class=HTMLResponse)
def connect(request: Request, form: Form) -> HTMLResponse:
    """One button: as the logged-in citizen, or as the person the cookie names."""
    values = _device(form)
    actor = page_principal(request)
    try:
        data = DeviceBind(**values)
        if actor is not None and allowed(actor, Action.WIFI_BIND_OWN):
            binding = service.bind_device_as_citizen(actor, data)
        else:
            binding = service.bind_known_device(
                actor, data, request.cookies.get(service.IDENTITY_COOKIE)
            )
    except (AppError, ValidationError) as exc:
        return _portal(
            request, status=refusal_status(exc), values=values, errors=FormErrors.of(exc)
        )
    return _bound(request, binding)


# --- Operators ---------------------------------------------------------------------------


def _operator_page(
    request: Request,
    actor: Principal,
    *,
    status: int = 200,
    imported: HotspotImportRead | None = None,
    refused: errors.HotspotsFileRefused | None = None,
    error: str | None = None,
) -> HTMLResponse:
    return render(
        request,
        "connectivity/operator.html",
        {
            "networks": service.list_networks(actor),
            "hotspots": service.list_hotspots(actor),
            "imported": imported,
            "refused_rows": refused.translated_rows() if refused else [],
            "error": error or (refused.translated() if refused else None),
        },
        status_code=status,
    )


@router.get("/wifi/operator", response_class=HTMLResponse)
def operator(request: Request) -> HTMLResponse:
    return _operator_page(request, logged_in(request))


@router.post("/wifi/operator/import", response_class=HTMLResponse)
async def import_file(request: Request) -> Response:
    actor = logged_in(request)
    form = await request.form()  # already read (and limited) for the CSRF check
    upload = form.get("file")
    data = await upload.read(MAX_FILE_BYTES + 1) if isinstance(upload, UploadFile) else b""
    try:
        imported = await run_in_threadpool(service.import_hotspots, actor, data)
    except errors.HotspotsFileRefused as exc:
        return await run_in_threadpool(_operator_page, request, actor, status=422, refused=exc)
    except AppError as exc:
        reraise_refusal(exc)
        return await run_in_threadpool(
            _operator_page, request, actor, status=exc.status, error=exc.translated()
        )
    return await run_in_threadpool(_operator_page, request, actor, imported=imported)


@router.get("/wifi/operator/stats", response_class=HTMLResponse)
def stats(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    last = city_today()
    first = last - timedelta(days=STATS_DAYS - 1)
    networks = service.wifi_statistics(actor, first, last)
    return render(
        request,
        "connectivity/stats.html",
        {
            "first": first,
            "last": last,
            "networks": [
                (
                    figures,
                    chart.days_svg(figures.days, gettext(CONNECT_TITLE)),
                    chart.days_svg(figures.devices_by_day, gettext(DEVICES_TITLE)),
                    chart.hotspots_svg(figures, gettext(HOTSPOTS_TITLE)),
                )
                for figures in networks
            ],
        },
    )
