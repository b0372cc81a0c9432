"""The pages of citizens and staff: registration, log-in, password reset, the citizen's
cabinet and children, the staff workplace (thin: parse the form, call one service
function, render).

Forms work without JavaScript. A refused form is shown again with the entered values
(passwords excepted), an error at each field and one at the top; a saved form
redirects (POST-redirect-GET) so that reloading does not submit it again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from infocity.accounts import service
from infocity.accounts.errors import Required
from infocity.accounts.pages.common import ROLE_LABELS, shown_again
from infocity.accounts.schemas import (
    ChildCreate,
    ChildUpdate,
    CitizenCreate,
    CitizenRecordRead,
    PersonRead,
    ProfileRead,
    ProfileUpdate,
)
from infocity.core.auth import Action, Principal, allowed
from infocity.core.errors import AppError
from infocity.core.i18n import LOCALES, N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.core.settings import get_settings
from infocity.web.deps import (
    SESSION_COOKIE,
    client_ip,
    csrf_protect,
    page_principal,
    render,
    safe_next,
    session_token,
    set_session_cookie,
)
from infocity.web.forms import (
    CHECK_FIELDS,
    Form,
    FormErrors,
    filled,
    logged_in,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])


# Here rather than in the shell's pages: a logged-in user's choice is stored with the
# account, so their notifications come in it too.
@router.get("/lang/{locale}")
def switch_language(request: Request, locale: str, next: str | None = None) -> RedirectResponse:
    """Remember the chosen language in a cookie (and the account's, for its
    notifications) and go back to the page."""
    response = RedirectResponse(safe_next(next), status_code=303)
    if locale in LOCALES:
        actor = page_principal(request)
        if actor is not None:
            service.set_locale(actor.user_id, locale)
        response.set_cookie(
            "lang",
            locale,
            max_age=365 * 86400,
            samesite="lax",
            secure=get_settings().secure_cookies,
        )
    return response


# --- Registration, log-in, log-out -------------------------------------------------

REGISTER_FIELDS = ("last_name", "first_name", "middle_name", "email", "phone", "password")


@router.get("/register", response_class=HTMLResponse)
def register_form(request: Request) -> HTMLResponse:
    return render(request, "accounts/register.html", {"values": {}, "errors": FormErrors()})


@router.post("/register", response_class=HTMLResponse)
def register(request: Request, form: Form) -> Response:
    entered = filled(form, REGISTER_FIELDS)
    try:
        service.register_citizen(CitizenCreate(**entered), ip=client_ip(request))
    except (AppError, ValidationError) as exc:
        errors = FormErrors.of(exc, REGISTER_FIELDS)
        if isinstance(exc, ValidationError):
            # The service's checks did not run: add their mistakes, so all show at once.
            errors.fields = {**service.registration_mistakes(entered), **errors.fields}
        return render(
            request,
            "accounts/register.html",
            {"values": shown_again(form, REGISTER_FIELDS), "errors": errors},
            status_code=refusal_status(exc),
        )
    return redirect("/login?registered=1")


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request,
    next: Annotated[str | None, Query(max_length=2000)] = None,
    registered: bool = False,
    reset: bool = False,
    verified: bool = False,
) -> HTMLResponse:
    notice = None
    if verified:
        notice = gettext(N_("Your e-mail or phone number is confirmed. Please log in."))
    elif registered:
        notice = gettext(
            N_(
                "Your account has been created. We have sent a link to your e-mail or phone "
                "to confirm it; log in and open the link to start using the services."
            )
        )
    elif reset:
        notice = gettext(N_("Your password has been changed. Please log in with the new one."))
    return render(
        request,
        "accounts/login.html",
        {
            "values": {"next": safe_next(next, "")},
            "errors": FormErrors(),
            "notice": notice,
        },
    )


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, form: Form) -> Response:
    identifier, password = form.get("identifier", "").strip(), form.get("password", "")
    target = safe_next(form.get("next"), "/cabinet")
    values = shown_again(form, ("identifier", "next"))
    if not identifier or not password:
        required = gettext(N_("This field is required."))
        fields = {name: required for name in ("identifier", "password") if not form.get(name)}
        errors = FormErrors(fields, gettext(CHECK_FIELDS))
        return render(
            request,
            "accounts/login.html",
            {"values": values, "errors": errors, "notice": None},
            status_code=422,
        )
    try:
        token = service.login(
            identifier[:254],
            password[:128],
            user_agent=request.headers.get("user-agent"),
            ip=client_ip(request),
        )
    except AppError as exc:
        return render(
            request,
            "accounts/login.html",
            {"values": values, "errors": FormErrors(form=exc.translated()), "notice": None},
            status_code=exc.status,
        )
    response = redirect(target)
    set_session_cookie(response, token)
    return response


@router.post("/logout")
def logout(request: Request) -> RedirectResponse:
    token = session_token(request)
    if token:
        service.logout(token)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- Confirming the e-mail or phone ---------------------------------------------------


@router.get("/verify", response_class=HTMLResponse)
def verify_pending(request: Request, sent: bool = False) -> Response:
    actor = logged_in(request)
    if actor.verified:
        return redirect("/cabinet")
    notice = gettext(N_("We have sent a new link.")) if sent else None
    return render(
        request, "accounts/verify.html", {"token": None, "notice": notice, "errors": FormErrors()}
    )


@router.post("/verify/resend", response_class=HTMLResponse)
def verify_resend(request: Request) -> Response:
    try:
        service.resend_verification(logged_in(request))
    except AppError as exc:
        reraise_refusal(exc)
        return render(
            request,
            "accounts/verify.html",
            {"token": None, "notice": None, "errors": FormErrors(form=exc.translated())},
            status_code=exc.status,
        )
    return redirect("/verify?sent=1")


@router.get("/verify/{token}", response_class=HTMLResponse)
def verify_form(request: Request, token: str) -> HTMLResponse:
    # A button rather than confirming on GET: mail scanners open links too.
    return render(
        request, "accounts/verify.html", {"token": token, "notice": None, "errors": FormErrors()}
    )


@router.post("/verify/{token}", response_class=HTMLResponse)
def verify(request: Request, token: str) -> Response:
    try:
        service.verify_contact(token[:200])
    except AppError as exc:
        return render(
            request,
            "accounts/verify.html",
            {"token": None, "notice": None, "errors": FormErrors(form=exc.translated())},
            status_code=exc.status,
        )
    return redirect("/cabinet?saved=verified" if page_principal(request) else "/login?verified=1")


# --- Password reset ----------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request, sent: bool = False) -> HTMLResponse:
    notice = None
    if sent:
        notice = gettext(
            N_(
                "If an account with this e-mail or phone number exists, we have sent it a link "
                "to set a new password."
            )
        )
    return render(
        request,
        "accounts/reset_request.html",
        {"values": {}, "errors": FormErrors(), "notice": notice},
    )


@router.post("/reset", response_class=HTMLResponse)
def reset_request(request: Request, form: Form) -> Response:
    identifier = form.get("identifier", "").strip()
    try:
        if not identifier:
            raise Required("identifier")
        service.request_password_reset(identifier[:254], ip=client_ip(request))
    except AppError as exc:
        return render(
            request,
            "accounts/reset_request.html",
            {
                "values": {"identifier": identifier},
                "errors": FormErrors.of(exc, ["identifier"]),
                "notice": None,
            },
            status_code=exc.status,
        )
    return redirect("/reset?sent=1")


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str) -> HTMLResponse:
    return render(request, "accounts/reset_confirm.html", {"token": token, "errors": FormErrors()})


@router.post("/reset/{token}", response_class=HTMLResponse)
def reset(request: Request, token: str, form: Form) -> Response:
    try:
        service.reset_password(token[:200], form.get("new_password", "")[:200])
    except AppError as exc:
        return render(
            request,
            "accounts/reset_confirm.html",
            {"token": token, "errors": FormErrors.of(exc, ["new_password"])},
            status_code=exc.status,
        )
    return redirect("/login?reset=1")


# --- Cabinet: profile and children -------------------------------------------------

PROFILE_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "sex",
    "snils",
    "oms_policy",
    "passport",
)
CHILD_FIELDS = (
    "last_name",
    "first_name",
    "middle_name",
    "birth_date",
    "sex",
    "snils",
    "oms_policy",
)
SAVED = {
    "profile": N_("Your profile has been saved."),
    "child": N_("The child has been added to your family."),
    "child_changed": N_("The child's details have been saved."),
    "child_removed": N_("The child has been removed from your family."),
    "verified": N_("Your e-mail or phone number is confirmed."),
}


def _profile_values(profile: ProfileRead) -> dict[str, str]:
    person = profile.person
    return {
        "last_name": person.last_name,
        "first_name": person.first_name,
        "middle_name": person.middle_name or "",
        "birth_date": person.birth_date.isoformat() if person.birth_date else "",
        "sex": person.sex or "",
    }


def _cabinet(
    request: Request,
    actor: Principal,
    *,
    profile_values: dict[str, str] | None = None,
    profile_errors: FormErrors | None = None,
    child_values: dict[str, str] | None = None,
    child_errors: FormErrors | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    profile = service.get_profile(actor)
    return render(
        request,
        "accounts/cabinet.html",
        {
            "profile": profile,
            "profile_values": profile_values or _profile_values(profile),
            "profile_errors": profile_errors or FormErrors(),
            "child_values": child_values or {},
            "child_errors": child_errors or FormErrors(),
            "notice": notice,
        },
        status_code=status_code,
    )


@router.get("/cabinet", response_class=HTMLResponse)
def cabinet(
    request: Request, saved: Annotated[str | None, Query(max_length=20)] = None
) -> Response:
    actor = logged_in(request)
    if actor.kind != "citizen":
        return redirect("/staff")
    if not actor.verified:
        return redirect("/verify")
    notice = gettext(SAVED[saved]) if saved in SAVED else None
    return _cabinet(request, actor, notice=notice)


@router.post("/cabinet/profile", response_class=HTMLResponse)
def update_profile(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    # Names and the date are always sent (empty clears what may be cleared); documents
    # are shown masked, so an empty document field means "keep it".
    data: dict[str, Any] = {
        name: form.get(name, "").strip() or None
        for name in ("last_name", "first_name", "middle_name", "birth_date", "sex")
    }
    data.update(filled(form, ("snils", "oms_policy", "passport")))
    try:
        service.update_profile(actor, ProfileUpdate(**data))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _cabinet(
            request,
            actor,
            profile_values=shown_again(form, PROFILE_FIELDS),
            profile_errors=FormErrors.of(exc, PROFILE_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/cabinet?saved=profile")


@router.post("/cabinet/children", response_class=HTMLResponse)
def add_child(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    try:
        service.add_child(actor, ChildCreate(**filled(form, CHILD_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _cabinet(
            request,
            actor,
            child_values=shown_again(form, CHILD_FIELDS),
            child_errors=FormErrors.of(exc, CHILD_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/cabinet?saved=child")


ChildId = Annotated[int, Path(ge=1, le=MAX_ID)]


def _child_values(child: PersonRead) -> dict[str, str]:
    return {
        "last_name": child.last_name,
        "first_name": child.first_name,
        "middle_name": child.middle_name or "",
        "birth_date": child.birth_date.isoformat() if child.birth_date else "",
        "sex": child.sex or "",
    }


@router.get("/cabinet/children/{child_id}", response_class=HTMLResponse)
def child_form(request: Request, child_id: ChildId) -> HTMLResponse:
    actor = logged_in(request)
    child = service.get_child(actor, child_id)
    return render(
        request,
        "accounts/child_edit.html",
        {"child": child, "values": _child_values(child), "errors": FormErrors()},
    )


@router.post("/cabinet/children/{child_id}", response_class=HTMLResponse)
def update_child(request: Request, child_id: ChildId, form: Form) -> Response:
    actor = logged_in(request)
    # As the profile: names, date and sex always sent; an empty document keeps it.
    data: dict[str, Any] = {
        name: form.get(name, "").strip() or None
        for name in ("last_name", "first_name", "middle_name", "birth_date", "sex")
    }
    data.update(filled(form, ("snils", "oms_policy")))
    try:
        service.update_child(actor, child_id, ChildUpdate(**data))
    except (AppError, ValidationError) as exc:
        _reraise_not_yours(exc)
        return render(
            request,
            "accounts/child_edit.html",
            {
                "child": service.get_child(actor, child_id),
                "values": shown_again(form, CHILD_FIELDS),
                "errors": FormErrors.of(exc, CHILD_FIELDS),
            },
            status_code=refusal_status(exc),
        )
    return redirect("/cabinet?saved=child_changed")


@router.get("/cabinet/children/{child_id}/remove", response_class=HTMLResponse)
def remove_child_form(request: Request, child_id: ChildId) -> HTMLResponse:
    """Removing asks first: the parent reads what it means and confirms."""
    child = service.get_child(logged_in(request), child_id)
    return render(request, "accounts/child_remove.html", {"child": child})


@router.post("/cabinet/children/{child_id}/remove")
def remove_child(request: Request, child_id: ChildId) -> Response:
    service.remove_child(logged_in(request), child_id)
    return redirect("/cabinet?saved=child_removed")


def _reraise_not_yours(exc: AppError | ValidationError) -> None:
    """Not logged in, not allowed, or not their child: the error page, not the form."""
    reraise_refusal(exc)
    if isinstance(exc, AppError) and exc.status == 404:
        raise exc


# --- Staff workplace and administration --------------------------------------------


def _workplace(
    request: Request,
    actor: Principal,
    *,
    query: str = "",
    results: list[CitizenRecordRead] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    workplace = service.get_workplace(actor)
    return render(
        request,
        "accounts/staff.html",
        {
            "workplace": workplace,
            "role_labels": ROLE_LABELS,
            # Only whether to show the form; the service decides on each look-up.
            "can_lookup": allowed(actor, Action.CITIZEN_LOOKUP),
            "can_admin": allowed(actor, Action.STAFF_MANAGE),
            "can_audit": allowed(actor, Action.AUDIT_READ),
            "query": query,
            "results": results,
            "errors": errors or FormErrors(),
        },
        status_code=status_code,
    )


@router.get("/staff", response_class=HTMLResponse)
def workplace(request: Request) -> HTMLResponse:
    return _workplace(request, logged_in(request))


@router.post("/staff", response_class=HTMLResponse)
def lookup(request: Request, form: Form) -> HTMLResponse:
    """A look-up shows its result directly: it is a read (audited), not a change."""
    actor = logged_in(request)
    query = form.get("query", "").strip()[:40]
    try:
        results = service.lookup_citizen(actor, query)
    except AppError as exc:
        reraise_refusal(exc)
        return _workplace(
            request,
            actor,
            query=query,
            errors=FormErrors.of(exc, ["query"]),
            status_code=exc.status,
        )
    return _workplace(request, actor, query=query, results=results)
