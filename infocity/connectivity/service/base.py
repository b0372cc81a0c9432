"""What the Wi-Fi use cases share: the tables, finding a hotspot, the operator's scope."""

from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from infocity.connectivity import errors
from infocity.connectivity.models import (
    WifiAccessPoint,
    WifiCode,
    WifiDevice,
    WifiHotspot,
    WifiHotspotDay,
    WifiIdentity,
    WifiIdentityLog,
    WifiNetwork,
    WifiNetworkDay,
    WifiRolledDay,
    WifiSession,
)
from infocity.core.auth import PERMISSIONS, Action, Principal, authorize

NETWORKS: Table = WifiNetwork.__table__  # type: ignore[assignment]
HOTSPOTS: Table = WifiHotspot.__table__  # type: ignore[assignment]
ACCESS_POINTS: Table = WifiAccessPoint.__table__  # type: ignore[assignment]
IDENTITIES: Table = WifiIdentity.__table__  # type: ignore[assignment]
CODES: Table = WifiCode.__table__  # type: ignore[assignment]
DEVICES: Table = WifiDevice.__table__  # type: ignore[assignment]
IDENTITY_LOG: Table = WifiIdentityLog.__table__  # type: ignore[assignment]
SESSIONS: Table = WifiSession.__table__  # type: ignore[assignment]
ROLLED_DAYS: Table = WifiRolledDay.__table__  # type: ignore[assignment]
NETWORK_DAYS: Table = WifiNetworkDay.__table__  # type: ignore[assignment]
HOTSPOT_DAYS: Table = WifiHotspotDay.__table__  # type: ignore[assignment]


def _hotspot_by_nas(session: Session, nas_identifier: str) -> tuple[WifiHotspot, WifiNetwork]:
    """The active hotspot the controller named, with its network; refused otherwise."""
    row = session.execute(
        select(WifiHotspot, WifiNetwork)
        .join(WifiNetwork, WifiNetwork.id == WifiHotspot.network_id)
        .where(WifiHotspot.nas_identifier == nas_identifier.strip(), WifiHotspot.active)
    ).one_or_none()
    if row is None:
        raise errors.HotspotNotFound()
    return row[0], row[1]


def _scoped_organisations(actor: Principal | None, action: Action) -> list[int] | None:
    """The operators whose networks ``actor`` may reach for ``action`` (None: every one);
    refuses the anonymous and the roles without ``action``."""
    actor = authorize(actor, action)
    if actor.is_system:
        return None
    grants = [g for g in actor.grants if g.role in PERMISSIONS[action]]
    if any(g.organisation_id is None for g in grants):
        return None
    return sorted({g.organisation_id for g in grants if g.organisation_id is not None})
