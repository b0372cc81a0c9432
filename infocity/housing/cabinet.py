"""Housing's card in the citizen's cabinet: each linked apartment's debt and last bill,
whether meter readings are accepted now (and until when), and the service requests not
closed yet, read through housing's own use cases."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from infocity.core.auth import Action, Principal, allowed
from infocity.core.i18n import N_, gettext
from infocity.core.uow import UnitOfWork
from infocity.housing import service
from infocity.housing.schemas import ApartmentOverviewRead, ServiceRequestRead, WindowRead
from infocity.portal.registry import register_cabinet_card
from infocity.portal.schemas import (
    CabinetCardContent,
    CabinetFactRead,
    CabinetItemRead,
    CabinetLinkRead,
)


def _apartment(overview: ApartmentOverviewRead) -> CabinetItemRead:
    apartment = overview.apartment
    facts = [
        CabinetFactRead(
            label=gettext("Debt") if overview.debt >= 0 else gettext("Paid in advance"),
            kind="money",
            value=abs(overview.debt),
        )
    ]
    actions = []
    if overview.bills:
        last = overview.bills[0]
        facts.append(CabinetFactRead(label=gettext("Last bill"), kind="month", value=last.period))
        facts.append(CabinetFactRead(label=gettext("Billed"), kind="money", value=last.total))
        actions.append(
            CabinetLinkRead(href=f"/housing/bills/{last.id}", label=gettext("Open the bill"))
        )
    return CabinetItemRead(
        text=f"{apartment.address}, {gettext('apt.')} {apartment.number}",
        href=f"/housing/apartments/{apartment.id}",
        facts=facts,
        actions=actions,
        attention=overview.debt > Decimal(0),
    )


def _window(window: WindowRead, apartment_id: int) -> CabinetItemRead:
    if window.is_open:
        return CabinetItemRead(
            text=gettext("Meter readings are accepted now"),
            facts=[CabinetFactRead(label=gettext("Until"), kind="day", value=window.last_day)],
            actions=[
                CabinetLinkRead(
                    href=f"/housing/apartments/{apartment_id}",
                    label=gettext("Submit readings"),
                )
            ],
        )
    return CabinetItemRead(
        text=gettext("Meter readings are not accepted now"),
        facts=[
            CabinetFactRead(label=gettext("Accepted from"), kind="day", value=window.first_day),
            CabinetFactRead(label=gettext("Until"), kind="day", value=window.last_day),
        ],
    )


def _request(request: ServiceRequestRead) -> CabinetItemRead:
    kind = service.housing_service(request.service_code)
    return CabinetItemRead(
        text=gettext(kind.name),
        href=f"/housing/requests/{request.id}",
        note=gettext(service.request_status_label(request.status)),
        facts=[CabinetFactRead(label=gettext("Filed"), kind="moment", value=request.created_at)],
    )


def housing_card(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent | None:
    """Apartments, the readings window and open requests; none for a non-resident."""
    if not allowed(actor, Action.HOUSING_OWN):
        return None
    apartments = service.list_my_apartments(actor, uow=uow)
    items = [
        _apartment(service.get_apartment_overview(actor, apartment.id, now=now, uow=uow))
        for apartment in apartments
    ]
    if apartments:
        items.append(_window(service.readings_window(now=now), apartments[0].id))
    items += [
        _request(request)
        for request in service.list_my_requests(actor, uow=uow)
        if service.open311_status(request.status) == "open"
    ]
    links = [CabinetLinkRead(href="/housing", label=gettext("Link an apartment"))]
    links.append(CabinetLinkRead(href="/housing/requests/new", label=gettext("Report a problem")))
    links.append(CabinetLinkRead(href="/housing/requests/mine", label=gettext("My requests")))
    return CabinetCardContent(
        items=items, empty=gettext("No apartment is linked to your cabinet yet."), links=links
    )


register_cabinet_card("housing", title=N_("Housing and utilities"), order=30, build=housing_card)
