"""The registry of Wi-Fi networks and hotspots: operators create networks and import
their hotspots from a file; anyone downloads the list of hotspots as open data."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.city import service as city
from infocity.connectivity import errors, rules
from infocity.connectivity.models import WifiAccessPoint, WifiHotspot, WifiNetwork
from infocity.connectivity.schemas import (
    HotspotImportRead,
    HotspotRead,
    HotspotSecretRead,
    NetworkCreate,
    NetworkRead,
)
from infocity.connectivity.service.base import _scoped_organisations
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.errors import NotFound
from infocity.core.i18n import N_
from infocity.core.uow import UnitOfWork

MAX_HOTSPOTS_IN_FILE = 20_000


def _new_radius_secret() -> str:
    # 32 characters of letters and digits: what every controller's form accepts.
    return secrets.token_hex(16)


def create_network(
    actor: Principal | None, data: NetworkCreate, *, uow: UnitOfWork | None = None
) -> NetworkRead:
    """A Wi-Fi operator (or a city administrator) adds a network of the operator."""
    actor = authorize(actor, Action.WIFI_NETWORKS_MANAGE, data.organisation_id)
    uow = uow or UnitOfWork()
    try:
        organisation = city.get_organisation(data.organisation_id)
    except NotFound:
        raise errors.NotAWifiOperator() from None
    if organisation.kind != "wifi_operator":
        raise errors.NotAWifiOperator()
    with uow:
        network = WifiNetwork(**data.model_dump(mode="json"))
        uow.session.add(network)
        try:
            uow.session.flush()
        except IntegrityError:
            raise errors.NetworkCodeTaken() from None
        audit.record(
            uow.session,
            actor,
            "connectivity.network.create",
            organisation_id=data.organisation_id,
            detail=data.code,
        )
        result = NetworkRead.model_validate(network)
        uow.commit()
        return result


def list_networks(actor: Principal | None, *, uow: UnitOfWork | None = None) -> list[NetworkRead]:
    """The networks the operator runs (every network for city-wide staff)."""
    scope = _scoped_organisations(actor, Action.WIFI_NETWORKS_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        counts = (
            select(WifiHotspot.network_id, func.count().label("n"))
            .group_by(WifiHotspot.network_id)
            .subquery()
        )
        query = (
            select(WifiNetwork, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.network_id == WifiNetwork.id)
            .order_by(WifiNetwork.name, WifiNetwork.id)
        )
        if scope is not None:
            query = query.where(WifiNetwork.organisation_id.in_(scope))
        return [
            NetworkRead.model_validate(network).model_copy(update={"hotspots": int(n)})
            for network, n in uow.session.execute(query)
        ]


def _networks_by_code(session: Session, scope: list[int] | None) -> dict[str, WifiNetwork]:
    query = select(WifiNetwork)
    if scope is not None:
        query = query.where(WifiNetwork.organisation_id.in_(scope))
    return {network.code: network for network in session.scalars(query)}


def _problems(
    session: Session, rows: Sequence[rules.HotspotRow], networks: dict[str, WifiNetwork]
) -> list[rules.RowProblem]:
    """Rows naming a network the operator does not run, or reusing a controller's address
    or an access point that belongs to another hotspot."""
    problems = []
    held_addresses = {
        address: nas
        for nas, address in session.execute(
            select(WifiHotspot.nas_identifier, WifiHotspot.nas_address)
        )
    }
    held_points = {
        mac: nas
        for mac, nas in session.execute(
            select(WifiAccessPoint.mac, WifiHotspot.nas_identifier).join(
                WifiHotspot, WifiHotspot.id == WifiAccessPoint.hotspot_id
            )
        )
    }
    addresses_in_file: dict[str, str] = {}
    points_in_file: dict[str, str] = {}
    for row in rows:
        address_owner = held_addresses.get(row.nas_address, row.nas_identifier)
        file_owner = addresses_in_file.setdefault(row.nas_address, row.nas_identifier)
        point_owners = [held_points.get(mac, row.nas_identifier) for mac in row.access_points]
        point_owners += [
            points_in_file.setdefault(mac, row.nas_identifier) for mac in row.access_points
        ]
        if row.network not in networks:
            problems.append(
                rules.RowProblem(
                    row.line,
                    N_("there is no network %(network)s of your organisation"),
                    (("network", row.network[:40]),),
                )
            )
        elif {address_owner, file_owner} != {row.nas_identifier}:
            problems.append(rules.RowProblem(row.line, N_("another controller has this address")))
        elif any(owner != row.nas_identifier for owner in point_owners):
            problems.append(
                rules.RowProblem(row.line, N_("an access point belongs to another hotspot"))
            )
    return problems


def _refuse(problems: list[rules.RowProblem]) -> errors.HotspotsFileRefused:
    return errors.HotspotsFileRefused(
        sorted(((p.line, p.message, dict(p.params)) for p in problems), key=lambda r: r[0])
    )


def _save(
    session: Session, rows: Sequence[rules.HotspotRow], networks: dict[str, WifiNetwork]
) -> HotspotImportRead:
    known = {
        hotspot.nas_identifier: hotspot
        for hotspot in session.scalars(
            select(WifiHotspot).where(
                WifiHotspot.nas_identifier.in_([row.nas_identifier for row in rows])
            )
        )
    }
    created: list[WifiHotspot] = []
    updated = 0
    for row in rows:
        hotspot = known.get(row.nas_identifier)
        fields = {
            "network_id": networks[row.network].id,
            "name": row.name,
            "address": row.address,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "ssid": row.ssid,
            "nas_address": row.nas_address,
        }
        if hotspot is None:
            hotspot = WifiHotspot(
                nas_identifier=row.nas_identifier, radius_secret=_new_radius_secret(), **fields
            )
            session.add(hotspot)
            created.append(hotspot)
        else:
            for name, value in fields.items():
                setattr(hotspot, name, value)
            updated += 1
    session.flush()
    by_nas = {**known, **{h.nas_identifier: h for h in created}}
    ids = [by_nas[row.nas_identifier].id for row in rows]
    # The file lists each hotspot's access points in full: what it leaves out is gone.
    session.execute(delete(WifiAccessPoint).where(WifiAccessPoint.hotspot_id.in_(ids)))
    session.flush()
    for row in rows:
        for mac in row.access_points:
            session.add(WifiAccessPoint(hotspot_id=by_nas[row.nas_identifier].id, mac=mac))
    return HotspotImportRead(
        created=len(created),
        updated=updated,
        secrets=[
            HotspotSecretRead(
                nas_identifier=h.nas_identifier,
                nas_address=h.nas_address,
                radius_secret=h.radius_secret,
            )
            for h in created
        ],
    )


def import_hotspots(
    actor: Principal | None, data: bytes, *, uow: UnitOfWork | None = None
) -> HotspotImportRead:
    """An operator loads its hotspots from a CSV file: all rows or none. A hotspot is
    known by its NAS identifier: a new one is added with a new RADIUS secret (shown in
    the answer, once), a known one is updated."""
    scope = _scoped_organisations(actor, Action.WIFI_NETWORKS_MANAGE)
    try:
        text = rules.decode_file(data)
    except ValueError:
        raise errors.HotspotsFileUnreadable() from None
    rows, problems = rules.parse_hotspots(text)
    if not rows and not problems:
        raise errors.HotspotsFileUnreadable()
    if len(rows) > MAX_HOTSPOTS_IN_FILE:
        problems.append(rules.RowProblem(1, N_("more than 20,000 hotspots in one file")))
    uow = uow or UnitOfWork()
    with uow:
        networks = _networks_by_code(uow.session, scope)
        problems += _problems(uow.session, rows, networks)
        if problems:
            raise _refuse(problems)
        result = _save(uow.session, rows, networks)
        audit.record(
            uow.session,
            actor,
            "connectivity.hotspots.import",
            detail=f"{result.created} new, {result.updated} updated",
        )
        uow.commit()
        return result


def _hotspot_reads(session: Session, query: Sequence[WifiHotspot]) -> list[HotspotRead]:
    points: dict[int, list[str]] = defaultdict(list)
    ids = [hotspot.id for hotspot in query]
    for hotspot_id, mac in session.execute(
        select(WifiAccessPoint.hotspot_id, WifiAccessPoint.mac)
        .where(WifiAccessPoint.hotspot_id.in_(ids))
        .order_by(WifiAccessPoint.mac)
    ):
        points[hotspot_id].append(mac)
    codes = {row.id: row.code for row in session.execute(select(WifiNetwork.id, WifiNetwork.code))}
    return [
        HotspotRead(
            id=h.id,
            network_id=h.network_id,
            network_code=codes[h.network_id],
            name=h.name,
            address=h.address,
            latitude=h.latitude,
            longitude=h.longitude,
            ssid=h.ssid,
            nas_identifier=h.nas_identifier,
            nas_address=h.nas_address,
            access_points=points[h.id],
        )
        for h in query
    ]


def list_hotspots(
    actor: Principal | None, network_id: int | None = None, *, uow: UnitOfWork | None = None
) -> list[HotspotRead]:
    """The hotspots of the operator's networks (of one network when given)."""
    scope = _scoped_organisations(actor, Action.WIFI_NETWORKS_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        query = (
            select(WifiHotspot)
            .join(WifiNetwork, WifiNetwork.id == WifiHotspot.network_id)
            .order_by(WifiHotspot.name, WifiHotspot.id)
        )
        if scope is not None:
            query = query.where(WifiNetwork.organisation_id.in_(scope))
        if network_id is not None:
            query = query.where(WifiHotspot.network_id == network_id)
        return _hotspot_reads(uow.session, list(uow.session.scalars(query)))


def open_data_hotspots(*, uow: UnitOfWork | None = None) -> list[HotspotRead]:
    """Every active hotspot of the city, for the open-data export (no login; the export
    leaves out the controllers' addresses)."""
    uow = uow or UnitOfWork()
    with uow:
        query = select(WifiHotspot).where(WifiHotspot.active).order_by(WifiHotspot.id)
        return _hotspot_reads(uow.session, list(uow.session.scalars(query)))
