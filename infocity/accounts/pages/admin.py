"""The city administrator's pages: staff accounts and the audit log (thin: parse the
form, call one service function, render).

Forms work without JavaScript. A refused form is shown again with the entered values
(passwords excepted), an error at each field and one at the top; a saved form
redirects (POST-redirect-GET) so that reloading does not submit it again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.accounts import service
from infocity.accounts.pages.common import ROLE_LABELS, shown_again
from infocity.accounts.schemas import (
    AuditFilter,
    StaffCreate,
)
from infocity.city import service as city
from infocity.core.auth import STAFF_ROLES, Principal
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.web.deps import (
    csrf_protect,
    render,
)
from infocity.web.forms import (
    Form,
    FormErrors,
    filled,
    logged_in,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_log(
    request: Request,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_.]*$")] = None,
    person: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    actor = logged_in(request)
    size = 100
    filters = AuditFilter(
        action=action or None, subject_person_id=person, limit=size, offset=(page - 1) * size
    )
    entries = service.list_audit(actor, filters)
    return render(
        request,
        "accounts/admin_audit.html",
        {
            "entries": entries,
            "action": action or "",
            "person": person or "",
            "page": page,
            "has_more": len(entries) == size,
        },
    )


STAFF_FIELDS = ("email", "display_name", "role", "organisation_id", "password")


def _staff_admin(
    request: Request,
    actor: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    staff = service.list_staff(actor)
    organisations = {o.id: o for o in city.list_organisations()}
    return render(
        request,
        "accounts/admin_staff.html",
        {
            "staff": staff,
            "organisations": organisations,
            "roles": [(role.value, ROLE_LABELS[role]) for role in STAFF_ROLES],
            "role_labels": {role.value: label for role, label in ROLE_LABELS.items()},
            "values": values or {},
            "errors": errors or FormErrors(),
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/admin/staff", response_class=HTMLResponse)
def staff_admin(request: Request, created: bool = False) -> HTMLResponse:
    notice = gettext(N_("The staff account has been created.")) if created else None
    return _staff_admin(request, logged_in(request), notice=notice)


@router.post("/admin/staff", response_class=HTMLResponse)
def create_staff(request: Request, form: Form) -> Response:
    actor = logged_in(request)  # never None here: no actor would mean the trusted CLI
    try:
        service.create_staff_account(StaffCreate(**filled(form, STAFF_FIELDS)), actor)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _staff_admin(
            request,
            actor,
            values=shown_again(form, STAFF_FIELDS),
            errors=FormErrors.of(exc, STAFF_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/admin/staff?created=1")
