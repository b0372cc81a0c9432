"""Pages of students' social cards (thin: parse the form, call one use case, render).

Students: /cards/social (apply through the portal, follow the card, confirm it is in hand,
report it lost, order a replacement). College student offices: /cards/social/college
(issue ordered cards with their UID, block cards); they confirm student status in the
portal's back office (/back-office).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.cards import service
from infocity.cards.rules import social as rules
from infocity.cards.schemas.social import SocialCardBlock, SocialCardIssue, SocialCardRead
from infocity.core.auth import Action, Principal, Role, allowed
from infocity.core.errors import AppError
from infocity.core.i18n import N_
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    logged_in,
    notice,
    redirect,
    reraise_refusal,
)

router = APIRouter(dependencies=[Depends(csrf_protect)])

PAGE = "/cards/social"
COLLEGE_PAGE = f"{PAGE}/college"
APPLY = "/applications/new/student_social_card"
NOTICES = {
    "activated": N_("Your card is active: validators accept it."),
    "blocked": N_("The card is blocked. You can order a new one below."),
    "reissued": N_("A new card is ordered; your college will issue it."),
    "issued": N_("The card is issued; the student has been told to collect it."),
    "college_blocked": N_("The card is blocked."),
}


def _common() -> dict[str, Any]:
    return {
        "status_labels": rules.STATUS_LABELS,
        "reason_labels": rules.BLOCK_REASON_LABELS,
        "student_reasons": rules.STUDENT_BLOCK_REASONS,
        "next_steps": rules.next_steps,
        "Mover": rules.Mover,
    }


def _index(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    cards = service.list_my_social_cards(actor)
    return render(
        request,
        "cards/social/index.html",
        {
            "cards": cards,
            "may_apply": not any(c.status in rules.LIVE_STATUSES for c in cards),
            "apply_link": APPLY,
            "errors": FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
def social_card_home(request: Request) -> Response:
    actor = logged_in(request)
    if actor.kind != "citizen" and allowed(actor, Action.SOCIAL_CARD_ISSUE):
        return redirect(COLLEGE_PAGE)
    return _index(request, actor)


def _act(request: Request, act: Callable[[Principal], SocialCardRead], done: str) -> Response:
    actor = logged_in(request)
    try:
        act(actor)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        status = exc.status if isinstance(exc, AppError) else 422
        return _index(request, actor, status, errors=FormErrors.of(exc))
    return redirect(f"{PAGE}?done={done}")


@router.post(f"{PAGE}/{{card_id}}/activate", response_class=HTMLResponse)
def social_card_activate(request: Request, card_id: IdPath) -> Response:
    return _act(request, lambda actor: service.activate_social_card(actor, card_id), "activated")


@router.post(f"{PAGE}/{{card_id}}/block", response_class=HTMLResponse)
def social_card_block(request: Request, card_id: IdPath, form: Form) -> Response:
    def block(actor: Principal) -> SocialCardRead:
        data = SocialCardBlock.model_validate({"reason": form.get("reason", "")})
        return service.report_social_card_lost(actor, card_id, data)

    return _act(request, block, "blocked")


@router.post(f"{PAGE}/{{card_id}}/reissue", response_class=HTMLResponse)
def social_card_reissue(request: Request, card_id: IdPath) -> Response:
    return _act(request, lambda actor: service.reissue_social_card(actor, card_id), "reissued")


# --- College student offices ---------------------------------------------------------


def _colleges(actor: Principal) -> list[tuple[int, str]]:
    """The colleges whose cards this staff member handles (every one for the city)."""
    own = {g.organisation_id for g in actor.grants if g.role == Role.COLLEGE_STAFF}
    return [
        (college_id, name)
        for college_id, name, _ in service.list_colleges()
        if college_id in own or actor.is_city_admin()
    ]


def _college(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    colleges = [
        (college_id, name, service.list_college_social_cards(actor, college_id))
        for college_id, name in _colleges(actor)
    ]
    return render(
        request,
        "cards/social/college.html",
        {
            "colleges": colleges,
            "errors": FormErrors(),
            "failed_card": None,
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(COLLEGE_PAGE, response_class=HTMLResponse)
def social_card_college(request: Request) -> Response:
    return _college(request, logged_in(request))


def _college_act(
    request: Request, card_id: int, act: Callable[[Principal], SocialCardRead], done: str
) -> Response:
    actor = logged_in(request)
    try:
        act(actor)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        status = exc.status if isinstance(exc, AppError) else 422
        return _college(request, actor, status, errors=FormErrors.of(exc), failed_card=card_id)
    return redirect(f"{COLLEGE_PAGE}?done={done}")


@router.post(f"{COLLEGE_PAGE}/{{card_id}}/issue", response_class=HTMLResponse)
def social_card_issue(request: Request, card_id: IdPath, form: Form) -> Response:
    def issue(actor: Principal) -> SocialCardRead:
        data = SocialCardIssue.model_validate({"uid": form.get("uid", "")})
        return service.issue_social_card(actor, card_id, data)

    return _college_act(request, card_id, issue, "issued")


@router.post(f"{COLLEGE_PAGE}/{{card_id}}/block", response_class=HTMLResponse)
def social_card_college_block(request: Request, card_id: IdPath, form: Form) -> Response:
    def block(actor: Principal) -> SocialCardRead:
        data = SocialCardBlock.model_validate({"reason": form.get("reason", "")})
        return service.block_social_card(actor, card_id, data)

    return _college_act(request, card_id, block, "college_blocked")
