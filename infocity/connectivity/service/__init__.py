"""Use cases of the city's public Wi-Fi: one function per thing a user does, one
transaction each.

- ``registry``: networks and hotspots, the hotspots file, the open-data list;
- ``portal``: the captive portal: codes by SMS, binding devices to people;
- ``operations``: stale sessions, the identity log's purge;
- ``statistics``: the operators' figures, and their roll-up by city day;
- ``base``: the tables, finding a hotspot, the operator's scope.

Callers import the package (``from infocity.connectivity import service``).
"""

from __future__ import annotations

from infocity.connectivity.service.operations import (
    close_stale_sessions,
    purge_identity_log,
)
from infocity.connectivity.service.portal import (
    IDENTITY_COOKIE,
    IDENTITY_COOKIE_SECONDS,
    bind_device_as_citizen,
    bind_known_device,
    confirm_wifi_code,
    identity_cookie,
    known_identity,
    open_portal,
    request_wifi_code,
)
from infocity.connectivity.service.registry import (
    create_network,
    import_hotspots,
    list_hotspots,
    list_networks,
    open_data_hotspots,
)
from infocity.connectivity.service.statistics import (
    roll_up_wifi_day,
    roll_up_wifi_statistics,
    wifi_statistics,
)

__all__ = [
    "IDENTITY_COOKIE",
    "IDENTITY_COOKIE_SECONDS",
    "bind_device_as_citizen",
    "bind_known_device",
    "close_stale_sessions",
    "confirm_wifi_code",
    "create_network",
    "identity_cookie",
    "import_hotspots",
    "known_identity",
    "list_hotspots",
    "list_networks",
    "open_data_hotspots",
    "open_portal",
    "purge_identity_log",
    "request_wifi_code",
    "roll_up_wifi_day",
    "roll_up_wifi_statistics",
    "wifi_statistics",
]
