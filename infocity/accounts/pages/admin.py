"""The city administrator's pages: staff accounts and the audit log (thin: parse the
form, call one service function, render).

Forms work without JavaScript. A refused form is shown again with the entered values
(passwords excepted), an error at each field and one at the top; a saved form
redirects (POST-redirect-GET) so that reloading does not submit it again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.accounts import service
from infocity.accounts.pages.audit_labels import action_label, readable_detail, role_label
from infocity.accounts.pages.common import ROLE_LABELS, shown_again
from infocity.accounts.schemas import (
    AuditFilter,
    GrantCreate,
    StaffCreate,
    StaffUpdate,
)
from infocity.city import service as city
from infocity.city.rules import ORGANISATION_KIND_LABELS
from infocity.core.audit import action_labels
from infocity.core.auth import STAFF_ROLES, Principal
from infocity.core.errors import AppError, NotFound
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
            "actions": sorted(
                ((code, gettext(label)) for code, label in action_labels().items()),
                key=lambda item: item[1],
            ),
            "action_label": action_label,
            "role_label": role_label,
            "readable_detail": readable_detail,
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
            "kind_labels": ORGANISATION_KIND_LABELS,
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


# --- One staff account: details, roles, deactivation, each confirmed first ------------

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
DETAIL_FIELDS = ("display_name", "email", "phone")
# What an administrator may do to an account from its page; each is confirmed first.
STEPS = ("deactivate", "reactivate", "grant", "revoke")
DONE = {
    "details": N_("The staff account has been saved."),
    "deactivate": N_("The account has been deactivated: it can no longer log in."),
    "reactivate": N_("The account has been reactivated."),
    "grant": N_("The role has been granted."),
    "revoke": N_("The role has been taken away."),
}


def _member(
    request: Request,
    actor: Principal,
    user_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    notice: str | None = None,
    preview: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    member = service.get_staff_account(actor, user_id)
    organisations = {o.id: o for o in city.list_organisations()}
    return render(
        request,
        "accounts/admin_staff_member.html",
        {
            "member": member,
            "values": values
            or {
                "display_name": member.display_name,
                "email": member.email or "",
                "phone": member.phone or "",
            },
            "errors": errors or FormErrors(),
            "notice": notice,
            "preview": preview,
            "organisations": organisations,
            "roles": [(role.value, ROLE_LABELS[role]) for role in STAFF_ROLES],
            "role_labels": {role.value: label for role, label in ROLE_LABELS.items()},
            "kind_labels": ORGANISATION_KIND_LABELS,
        },
        status_code=status_code,
    )


@router.get("/admin/staff/{user_id}", response_class=HTMLResponse)
def staff_member(
    request: Request,
    user_id: UserId,
    saved: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    notice = gettext(DONE[saved]) if saved in DONE else None
    return _member(request, logged_in(request), user_id, notice=notice)


@router.post("/admin/staff/{user_id}", response_class=HTMLResponse)
def update_staff_member(request: Request, user_id: UserId, form: Form) -> Response:
    """First the changes are shown for confirmation; only the confirmed form saves."""
    actor = logged_in(request)
    values = {name: form.get(name, "").strip() for name in DETAIL_FIELDS}
    if form.get("step") != "confirm":
        return _member(request, actor, user_id, values=values, preview=values)
    try:
        service.update_staff_account(
            actor, user_id, StaffUpdate(**{k: v or None for k, v in values.items()})
        )
    except (AppError, ValidationError) as exc:
        _reraise_not_found(exc)
        return _member(
            request,
            actor,
            user_id,
            values=values,
            errors=FormErrors.of(exc, DETAIL_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/admin/staff/{user_id}?saved=details")


@router.get("/admin/staff/{user_id}/{step}", response_class=HTMLResponse)
def confirm_staff_step(
    request: Request,
    user_id: UserId,
    step: str,
    role: Annotated[str | None, Query(max_length=32)] = None,
    organisation_id: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """What the step will do, and a button to do it."""
    actor = logged_in(request)
    if step not in STEPS:
        raise NotFound("not_found", N_("Nothing was found at this address."))
    member = service.get_staff_account(actor, user_id)
    organisation = None
    if organisation_id and organisation_id.isdigit():
        organisation = {o.id: o for o in city.list_organisations()}.get(int(organisation_id))
    return render(
        request,
        "accounts/admin_staff_confirm.html",
        {
            "member": member,
            "step": step,
            "role": role or "",
            "organisation_id": organisation_id or "",
            "organisation": organisation,
            "role_labels": {r.value: label for r, label in ROLE_LABELS.items()},
        },
    )


@router.post("/admin/staff/{user_id}/{step}", response_class=HTMLResponse)
def staff_step(request: Request, user_id: UserId, step: str, form: Form) -> Response:
    actor = logged_in(request)
    if step not in STEPS:
        raise NotFound("not_found", N_("Nothing was found at this address."))
    try:
        if step == "deactivate":
            service.deactivate_staff_account(actor, user_id)
        elif step == "reactivate":
            service.reactivate_staff_account(actor, user_id)
        else:
            grant = GrantCreate(**filled(form, ("role", "organisation_id")))
            change = service.grant_role if step == "grant" else service.revoke_role
            change(actor, user_id, grant)
    except (AppError, ValidationError) as exc:
        _reraise_not_found(exc)
        return _member(
            request,
            actor,
            user_id,
            errors=FormErrors.of(exc, ()),
            status_code=refusal_status(exc),
        )
    return redirect(f"/admin/staff/{user_id}?saved={step}")


def _reraise_not_found(exc: AppError | ValidationError) -> None:
    """Not logged in, not allowed, or no such staff member: the error page."""
    reraise_refusal(exc)
    if isinstance(exc, AppError) and exc.code == "staff_not_found":
        raise exc
