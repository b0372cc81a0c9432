"""The demo city's Wi-Fi: the demo operator's metro and park networks with a few
hotspots (through the service functions). A FreeRADIUS pointed at the demo's PostgreSQL
knows the first metro hotspot's controller at 127.0.0.1.

Call ``load_demo_connectivity()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from infocity.city import service as city
from infocity.connectivity import service
from infocity.connectivity.schemas import NetworkCreate
from infocity.core.auth import SYSTEM

HEADER = "network;name;address;latitude;longitude;ssid;nas_identifier;nas_address;access_points"
HOTSPOTS = [
    "metro;Охотный Ряд;Москва, ст. м. Охотный Ряд;55.7577;37.6161;MT_FREE;mt-okhotny-1;"
    "127.0.0.1;02-4d-54-00-00-01 02-4d-54-00-00-02",
    "metro;Арбатская;Москва, ст. м. Арбатская;55.7520;37.6035;MT_FREE;mt-arbatskaya-1;"
    "10.20.0.2;02-4d-54-00-01-01",
    "parks;Парк Горького;Москва, ул. Крымский Вал, 9;55.7298;37.6019;Moscow_WiFi_Free;"
    "park-gorky-1;10.30.0.1;02-50-4b-00-00-01",
]


def load_demo_connectivity() -> None:
    """The demo operator's networks and hotspots."""
    operator = next(
        o for o in city.list_organisations("wifi_operator") if o.name_en == "City Wi-Fi Network"
    )
    for code, name, kind in (("metro", "Метро", "metro"), ("parks", "Парки", "park")):
        service.create_network(
            SYSTEM, NetworkCreate(organisation_id=operator.id, code=code, name=name, kind=kind)
        )
    service.import_hotspots(SYSTEM, "\n".join([HEADER, *HOTSPOTS]).encode())
