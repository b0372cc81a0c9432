"""The portal's own cards in the citizen's cabinet: their applications and their latest
notifications (the other services' cards are in their ``cabinet.py``)."""

from __future__ import annotations

from datetime import datetime

from infocity.core.auth import Principal
from infocity.core.i18n import N_, gettext
from infocity.core.uow import UnitOfWork
from infocity.portal import service
from infocity.portal.registry import register_cabinet_card
from infocity.portal.schemas import (
    CabinetCardContent,
    CabinetFactRead,
    CabinetItemRead,
    CabinetLinkRead,
)

APPLICATIONS = 10
NOTIFICATIONS = 5


def _applications(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent:
    listing = service.list_my_applications(actor, limit=APPLICATIONS, now=now, uow=uow)
    items = [
        CabinetItemRead(
            text=" ".join(
                part for part in (gettext("No. %(number)s", number=app.id), app.type_title) if part
            ),
            href=f"/applications/{app.id}",
            note=app.status_label + (f" ({gettext('Overdue')})" if app.overdue else ""),
            facts=[CabinetFactRead(label=gettext("Details"), value=app.summary)]
            if app.summary
            else [],
            attention=app.status == "needs_information",
        )
        for app in listing.items
    ]
    links = [CabinetLinkRead(href="/services", label=gettext("Find a service"))]
    if listing.total:
        links.insert(0, CabinetLinkRead(href="/applications", label=gettext("All my applications")))
    return CabinetCardContent(
        items=items, empty=gettext("You have no applications yet."), links=links
    )


def _notifications(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent:
    inbox = service.list_inbox(actor, limit=NOTIFICATIONS, uow=uow)
    items = [
        CabinetItemRead(
            text=message.subject,
            href=f"/inbox/{message.id}",
            facts=[
                CabinetFactRead(label=gettext("Received"), kind="moment", value=message.created_at)
            ],
            attention=message.read_at is None,
        )
        for message in inbox.items
    ]
    return CabinetCardContent(
        items=items,
        empty=gettext("There are no messages here yet."),
        links=[CabinetLinkRead(href="/inbox", label=gettext("All notifications"))]
        if inbox.items
        else [],
        badge=gettext("unread: %(num)s", num=inbox.unread) if inbox.unread else None,
    )


register_cabinet_card("applications", title=N_("Applications"), order=10, build=_applications)
register_cabinet_card(
    "notifications", title=N_("Latest notifications"), order=900, build=_notifications
)
