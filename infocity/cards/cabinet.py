"""School cards' card in the citizen's cabinet: each child told about, with the card's
balance and state, read through the cards' own use cases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from infocity.accounts import service as accounts
from infocity.cards import service
from infocity.cards.schemas.cards import PupilRead
from infocity.core.auth import Action, Principal, allowed
from infocity.core.i18n import N_, gettext
from infocity.core.uow import UnitOfWork
from infocity.portal.registry import register_cabinet_card
from infocity.portal.schemas import (
    CabinetCardContent,
    CabinetFactRead,
    CabinetItemRead,
    CabinetLinkRead,
)


def _pupil(pupil: PupilRead) -> CabinetItemRead:
    return CabinetItemRead(
        text=pupil.name,
        href=f"/cards/pupils/{pupil.id}",
        facts=[
            CabinetFactRead(
                label=gettext("Balance"), kind="money", value=Decimal(pupil.balance) / 100
            )
        ],
        attention=pupil.balance < pupil.low_balance or pupil.card_status != "active",
    )


def cards_card(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent | None:
    """The children's school cards; none for a citizen with no child in the family."""
    if not allowed(actor, Action.SCHOOL_CARDS_OWN):
        return None
    pupils = service.list_my_pupils(actor, now=now, uow=uow)
    if not pupils and not accounts.list_family(actor, uow=uow):
        return None
    return CabinetCardContent(
        items=[_pupil(pupil) for pupil in pupils],
        empty=gettext("The school card service is not on for your children yet."),
        links=[CabinetLinkRead(href="/cards", label=gettext("School cards"))],
    )


register_cabinet_card("school_cards", title=N_("School cards"), order=40, build=cards_card)
