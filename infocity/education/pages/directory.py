"""Pages of the education directory (thin: parse the form, call one use case, render).

Staff: /education/directory — the schools with their buildings and the kindergartens with
their groups' places that the staff member looks after (their own organisation, their
district's, or the city's); education officials also register schools and kindergartens
and load the school territories' file, whose refused lines are listed with the reason.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from infocity.core.auth import Principal
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.i18n import N_, current_locale, gettext
from infocity.education import errors, service
from infocity.education.rules.kindergarten import OLDEST_GROUP, YOUNGEST_GROUP, school_year
from infocity.education.schemas.directory import GroupPlacesSet, KindergartenCreate, SchoolCreate
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    filled,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(dependencies=[Depends(csrf_protect)])

PAGE = "/education/directory"
SCHOOL_FIELDS = ("name", "name_en", "district_id", "buildings")
KINDERGARTEN_FIELDS = ("name", "name_en", "district_id", "address")
GROUP_FIELDS = ("year", "age_group", "places")
AGE_GROUPS = range(YOUNGEST_GROUP, OLDEST_GROUP + 1)
MAX_FILE_BYTES = 1024 * 1024 - 1024  # under the body limit of every request
NOTICES = {
    "school": N_("The school is registered."),
    "kindergarten": N_("The kindergarten is registered."),
    "places": N_("The places are saved."),
    "territory": N_("The territory file is imported."),
}


def _page(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    this_year = school_year(city_today())
    directory = service.list_directory(actor)
    en = current_locale() == "en"
    return render(
        request,
        "education/directory/index.html",
        {
            "directory": directory,
            "district_options": [
                (d.id, d.name_en if en and d.name_en else d.name) for d in directory.districts
            ],
            "year_options": [(y, f"{y}/{y + 1}") for y in (this_year, this_year + 1)],
            "age_options": [(g, gettext(N_("%(years)s years"), years=g)) for g in AGE_GROUPS],
            "values": {},
            "errors": FormErrors(),
            "form": None,  # which form the values and errors belong to
            "rejected_rows": [],
            "notice": notice(NOTICES, request.query_params.get("done")),
            **context,
        },
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
def directory_home(request: Request) -> Response:
    return _page(request, logged_in(request))


def _refused(
    request: Request,
    actor: Principal,
    exc: AppError | ValidationError,
    form: str,
    values: dict[str, str],
    fields: tuple[str, ...],
) -> HTMLResponse:
    reraise_refusal(exc)
    return _page(
        request,
        actor,
        refusal_status(exc),
        values=values,
        errors=FormErrors.of(exc, fields),
        form=form,
    )


@router.post(f"{PAGE}/schools", response_class=HTMLResponse)
def directory_add_school(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, SCHOOL_FIELDS)
    try:
        data = SchoolCreate.model_validate(
            {
                **values,
                # One building a line; the first is the school's main address.
                "buildings": [b for b in values.get("buildings", "").splitlines() if b.strip()],
            }
        )
        service.create_school(actor, data)
    except (AppError, ValidationError) as exc:
        return _refused(request, actor, exc, "school", values, SCHOOL_FIELDS)
    return redirect(f"{PAGE}?done=school")


@router.post(f"{PAGE}/kindergartens", response_class=HTMLResponse)
def directory_add_kindergarten(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, KINDERGARTEN_FIELDS)
    try:
        service.create_kindergarten(actor, KindergartenCreate.model_validate(values))
    except (AppError, ValidationError) as exc:
        return _refused(request, actor, exc, "kindergarten", values, KINDERGARTEN_FIELDS)
    return redirect(f"{PAGE}?done=kindergarten")


@router.post(f"{PAGE}/kindergartens/{{kindergarten_id}}/groups", response_class=HTMLResponse)
def directory_set_places(request: Request, kindergarten_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, GROUP_FIELDS)
    try:
        data = GroupPlacesSet.model_validate(values)
        service.set_group_places(actor, kindergarten_id, data)
    except (AppError, ValidationError) as exc:
        return _refused(request, actor, exc, f"groups-{kindergarten_id}", values, GROUP_FIELDS)
    return redirect(f"{PAGE}?done=places#kindergarten-{kindergarten_id}")


@router.post(f"{PAGE}/territory", response_class=HTMLResponse)
async def directory_import_territory(request: Request) -> Response:
    actor = logged_in(request)
    form = await request.form()  # already read (and limited) for the CSRF check
    upload = form.get("file")
    data = await upload.read(MAX_FILE_BYTES) if isinstance(upload, UploadFile) else b""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""  # refused by the header check, on line 1
    try:
        await run_in_threadpool(service.import_territory, actor, text)
    except AppError as exc:
        reraise_refusal(exc)
        rows = (
            [(line, gettext(why)) for line, why in exc.rows]
            if isinstance(exc, errors.TerritoryRowsRejected)
            else []
        )
        return await run_in_threadpool(
            _page,
            request,
            actor,
            exc.status,
            errors=FormErrors({}, exc.translated()),
            form="territory",
            rejected_rows=rows,
        )
    return redirect(f"{PAGE}?done=territory")
