"""School staff's pages of school cards (thin: parse the form, call one use case,
render). /cards/school: the school's pupils with their card and balance, a search, and
issuing a card to a child found in the register; /cards/school/pupils/<id>: the pupil's
cards (block a lost one, unblock a found one, re-issue), subsidised meals (grant,
revoke from tomorrow), history and latest events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.cards import errors, service
from infocity.cards.pages.parents import _kopecks
from infocity.cards.rules.cards import HISTORY_LABELS, STATUS_LABELS
from infocity.cards.rules.events import EVENT_LABELS
from infocity.cards.rules.ledger import DECLINE_LABELS
from infocity.cards.schemas.cards import CardIssue, CardRead
from infocity.cards.schemas.meals import SubsidyGrant
from infocity.core.auth import Principal, Role
from infocity.core.clock import city_today
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

PAGE = "/cards/school"
NOTICES = {
    "issued": N_("The card is issued: it opens the turnstile and pays in the canteen."),
    "blocked": N_("The card is blocked: turnstiles and tills refuse it."),
    "unblocked": N_("The card works again."),
    "reissued": N_("The new card is issued; the balance and the rules stay with the pupil."),
    "subsidy_granted": N_("Subsidised meals are granted."),
    "subsidy_revoked": N_(
        "Subsidised meals are revoked from tomorrow; meals ordered ahead for those days that "
        "they paid are cancelled and the parents see it on the child's page."
    ),
}
SUBSIDY_FIELDS = ("daily_amount", "starts", "ends")
LABELS = {
    "status": STATUS_LABELS,
    "event": EVENT_LABELS,
    "decline": DECLINE_LABELS,
    "history": HISTORY_LABELS,
}


def _school_id(request: Request, actor: Principal) -> int | None:
    """The school asked for (``?school=``), else the staff member's first school."""
    asked = request.query_params.get("school", "")
    if asked.isdigit():
        return int(asked)
    own = [g.organisation_id for g in actor.grants if g.role == Role.SCHOOL_STAFF]
    return min((school for school in own if school is not None), default=None)


def _birth_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(
            "cards_invalid_birth_date", N_("Give the date of birth."), field="birth_date"
        ) from exc


def _school_page(
    request: Request, school_id: int | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    actor = logged_in(request)
    search = request.query_params.get("q", "")
    school = None
    found = None
    if school_id is not None:
        school = service.list_school_pupils(actor, school_id, search=search)
        last_name = request.query_params.get("last_name", "").strip()
        born = request.query_params.get("birth_date", "")
        if last_name and born and "errors" not in context:
            try:
                found = service.find_children_for_card(
                    actor, school_id, last_name, _birth_date(born)
                )
            except AppError as exc:
                reraise_refusal(exc)
                context["errors"] = FormErrors.of(exc)
    return render(
        request,
        "cards/school/pupils.html",
        {
            "school": school,
            "search": search,
            "found": found,
            "last_name": request.query_params.get("last_name", ""),
            "birth_date": request.query_params.get("birth_date", ""),
            "labels": LABELS,
            "errors": FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
            **context,
        },
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
def school_pupils(request: Request) -> HTMLResponse:
    actor = logged_in(request)
    return _school_page(request, _school_id(request, actor))


@router.post(f"{PAGE}/issue", response_class=HTMLResponse)
def school_issue(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    school_id = int(form["school_id"]) if form.get("school_id", "").isdigit() else 0
    try:
        card = service.issue_card(
            actor,
            CardIssue.model_validate(
                {
                    "school_id": school_id,
                    "person_id": form.get("person_id", ""),
                    "uid": form.get("uid", ""),
                }
            ),
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        problems = FormErrors.of(exc, ("uid",))
        return _school_page(request, school_id or None, refusal_status(exc), errors=problems)
    return redirect(f"{PAGE}/pupils/{card.pupil_id}?done=issued")


def _pupil_page(
    request: Request, pupil_id: int, status_code: int = 200, **context: Any
) -> HTMLResponse:
    actor = logged_in(request)
    pupil = service.get_school_pupil(actor, pupil_id)
    return render(
        request,
        "cards/school/pupil.html",
        {
            "data": pupil,
            "subsidies": service.school_pupil_subsidies(actor, pupil.school_id, pupil_id),
            "today": city_today(),
            "subsidy_form": {},
            "history": service.card_history(actor, pupil_id),
            "labels": LABELS,
            "errors": FormErrors(),
            "failed_card": None,
            "notice": notice(NOTICES, request.query_params.get("done")),
            **context,
        },
        status_code=status_code,
    )


@router.get(f"{PAGE}/pupils/{{pupil_id}}", response_class=HTMLResponse)
def school_pupil(request: Request, pupil_id: IdPath) -> HTMLResponse:
    return _pupil_page(request, pupil_id)


def _card_act(
    request: Request,
    pupil_id: int,
    card_id: int,
    act: Callable[[Principal], CardRead],
    done: str,
) -> Response:
    actor = logged_in(request)
    try:
        act(actor)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _pupil_page(
            request,
            pupil_id,
            refusal_status(exc),
            errors=FormErrors.of(exc, ("uid",)),
            failed_card=card_id,
        )
    return redirect(f"{PAGE}/pupils/{pupil_id}?done={done}")


@router.post(f"{PAGE}/pupils/{{pupil_id}}/cards/{{card_id}}/block", response_class=HTMLResponse)
def school_block(request: Request, pupil_id: IdPath, card_id: IdPath) -> Response:
    return _card_act(
        request, pupil_id, card_id, lambda actor: service.block_card(actor, card_id), "blocked"
    )


@router.post(f"{PAGE}/pupils/{{pupil_id}}/cards/{{card_id}}/unblock", response_class=HTMLResponse)
def school_unblock(request: Request, pupil_id: IdPath, card_id: IdPath) -> Response:
    return _card_act(
        request, pupil_id, card_id, lambda actor: service.unblock_card(actor, card_id), "unblocked"
    )


@router.post(f"{PAGE}/pupils/{{pupil_id}}/cards/{{card_id}}/reissue", response_class=HTMLResponse)
def school_reissue(request: Request, pupil_id: IdPath, card_id: IdPath, form: Form) -> Response:
    def reissue(actor: Principal) -> CardRead:
        uid = form.get("uid", "")
        if not uid.strip():
            raise errors.InvalidCardUid()
        return service.reissue_card(actor, card_id, uid)

    return _card_act(request, pupil_id, card_id, reissue, "reissued")


def _school_of(form: dict[str, str]) -> int:
    return int(form["school_id"]) if form.get("school_id", "").isdigit() else 0


@router.post(f"{PAGE}/pupils/{{pupil_id}}/subsidies", response_class=HTMLResponse)
def school_grant_subsidy(request: Request, pupil_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    try:
        grant = SubsidyGrant.model_validate(
            {
                "daily_amount": _kopecks(form.get("daily_amount")) or 0,
                "starts": form.get("starts", ""),
                "ends": form.get("ends", ""),
            }
        )
        service.grant_subsidy(actor, _school_of(form), pupil_id, grant)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _pupil_page(
            request,
            pupil_id,
            refusal_status(exc),
            errors=FormErrors.of(exc, SUBSIDY_FIELDS),
            subsidy_form={name: form.get(name, "") for name in SUBSIDY_FIELDS},
        )
    return redirect(f"{PAGE}/pupils/{pupil_id}?done=subsidy_granted")


@router.post(
    f"{PAGE}/pupils/{{pupil_id}}/subsidies/{{subsidy_id}}/revoke", response_class=HTMLResponse
)
def school_revoke_subsidy(
    request: Request, pupil_id: IdPath, subsidy_id: IdPath, form: Form
) -> Response:
    actor = logged_in(request)
    try:
        service.revoke_subsidy(actor, _school_of(form), subsidy_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _pupil_page(request, pupil_id, refusal_status(exc), errors=FormErrors.of(exc))
    return redirect(f"{PAGE}/pupils/{pupil_id}?done=subsidy_revoked")
