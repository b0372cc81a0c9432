"""The citizen's single window: the cards services register in the portal's registry."""

from __future__ import annotations

from datetime import datetime

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.i18n import gettext
from infocity.core.uow import UnitOfWork
from infocity.portal.registry import (
    cabinet_cards,
)
from infocity.portal.schemas import (
    CabinetCardRead,
    OverviewRead,
)
from infocity.portal.service.inbox import (
    _unread,
)


def my_overview(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> OverviewRead:
    """Everything of the citizen's in one place: a card from each city service registered
    in the cabinet (``registry.register_cabinet_card``), in their order, read in one
    transaction."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        cards = []
        for card in cabinet_cards():
            content = card.build(actor, now, uow)
            if content is None:
                continue
            cards.append(
                CabinetCardRead(
                    code=card.code,
                    title=gettext(card.title),
                    items=content.items,
                    empty=content.empty,
                    links=content.links,
                    badge=content.badge,
                )
            )
        return OverviewRead(cards=cards, unread=_unread(uow, actor.user_id))
