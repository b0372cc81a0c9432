"""The city's Wi-Fi made for tests through the real service functions: an operator with
a network and its hotspots, and the SMS codes read where the channel puts them."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from sqlalchemy import select

from infocity.connectivity import service
from infocity.connectivity.schemas import HotspotImportRead, NetworkCreate, NetworkRead
from infocity.core.auth import Role
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from tests.builders import Account, make_organisation, make_staff

_numbers = itertools.count(1)
HEADER = "network;name;address;latitude;longitude;ssid;nas_identifier;nas_address;access_points"


@dataclass(frozen=True)
class WifiCity:
    """An operator, its staff member, one network and its hotspots (by NAS identifier)."""

    operator_id: int
    staff: Account
    network: NetworkRead
    hotspots: HotspotImportRead

    @property
    def nas(self) -> str:
        return self.hotspots.secrets[0].nas_identifier

    @property
    def secret(self) -> str:
        return self.hotspots.secrets[0].radius_secret


def hotspot_line(network: str, n: int, nas_address: str = "") -> str:
    """One line of a hotspots file (a metro station's hotspot, two access points whose MACs
    are unique for every ``n`` below 65,536)."""
    address = nas_address or f"10.{n // 250}.{n % 250}.1"
    station = f"{n >> 8:02x}-{n & 0xFF:02x}"
    return (
        f"{network};Станция №{n};Москва, ст. м. №{n};55.{750 + n};37.{610 + n};MT_FREE;"
        f"nas-{network}-{n};{address};02-11-22-{station}-01 02-11-22-{station}-02"
    )


def make_wifi_city(
    kind: str = "metro", hotspots: int = 2, *, nas_address: str = "", binding_days: int = 183
) -> WifiCity:
    """An operator with one network of ``kind`` and ``hotspots`` hotspots; the first one's
    controller at ``nas_address`` when given."""
    n = next(_numbers)
    operator = make_organisation("wifi_operator", name=f"Оператор Wi-Fi №{n}")
    staff = make_staff(Role.WIFI_OPERATOR, operator.id)
    network = service.create_network(
        staff.principal,
        NetworkCreate(
            organisation_id=operator.id,
            code=f"{kind}-{n}",
            name=f"Сеть {kind} №{n}",
            kind=kind,
            binding_days=binding_days,
        ),
    )
    lines = [
        hotspot_line(network.code, n * 100 + i, nas_address if i == 0 else "")
        for i in range(hotspots)
    ]
    imported = service.import_hotspots(staff.principal, "\n".join([HEADER, *lines]).encode())
    return WifiCity(operator_id=operator.id, staff=staff, network=network, hotspots=imported)


def sms_code(phone: str) -> str:
    """The latest Wi-Fi code sent to ``phone``, read from the outbox row the SMS channel
    sends (as the person reads their SMS)."""
    with UnitOfWork() as uow:
        subject = uow.session.scalars(
            select(OutboxMessage.subject)
            .where(
                OutboxMessage.kind == "wifi_code",
                OutboxMessage.channel == "sms",
                OutboxMessage.address == phone,
            )
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        ).one()
    found = re.search(r"\d{6}", subject)
    assert found is not None, subject
    return found.group()
