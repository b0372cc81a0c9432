"""Public Wi-Fi: two operators, a network per metro line and one each for parks, student
dormitories and bike lanes; their hotspots (controllers with two access points each);
people identified by phone, their devices bound on one network each (with the identity
log's entry of the binding), and one city day of closed sessions — the day before
``start`` — about 3 million connections at scale 1, most of them in the metro's rush
hours.

What the connectivity service would have written: secrets of 32 hex characters,
bindings for the network's ``binding_days`` made within the last five months (so every
device still passes), MACs as ``aa-bb-cc-dd-ee-ff``, phones in E.164.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from infocity.analytics.synthetic.base import (
    OKRUGS,
    ORGANISATION_COLUMNS,
    STREETS,
    CityBase,
    Rows,
    Table,
)

# --- The city's Wi-Fi at scale 1 --------------------------------------------------------

METRO_LINES = 12
METRO_STATIONS = 196  # one controller a station (the trains' Wi-Fi ends there)
PARK_HOTSPOTS = 60  # about 20 parks, three controllers each
DORMITORIES = 121
BIKE_LANE_HOTSPOTS = 40
IDENTITIES = 2_000_000  # people identified by phone
DEVICES_PER_IDENTITY = 1.2
# Connections of one day by kind of network (the metro: 3 million a day).
DAY_CONNECTIONS = {"metro": 3_000_000, "park": 150_000, "dormitory": 120_000, "bike_lane": 20_000}
BINDING_DAYS = 183
SESSION_SECONDS = 3 * 3600
SYNTHETIC_SESSION_PREFIX = "syn-"

# Share of a day's metro connections starting in each city hour (rush hours 8-9, 18-19).
METRO_HOURS = (
    0.2, 0.0, 0.0, 0.0, 0.0, 0.3, 2.5, 6.5, 10.0, 8.5, 5.5, 4.5,
    4.5, 4.5, 4.5, 5.0, 6.0, 8.0, 9.5, 7.0, 4.5, 3.0, 2.0, 1.0,
)  # fmt: skip
# Parks, dormitories and bike lanes: the afternoon and evening.
LEISURE_HOURS = (
    1.0, 0.5, 0.2, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 4.0, 5.0, 6.0,
    7.0, 7.0, 7.0, 7.0, 7.0, 7.5, 8.0, 8.0, 7.0, 5.0, 3.0, 2.0,
)  # fmt: skip

COLUMNS: dict[str, Sequence[str]] = {
    "organisations": ORGANISATION_COLUMNS,
    "wifi_networks": (
        "id", "organisation_id", "code", "name", "kind", "binding_days", "session_seconds",
        "bandwidth_down_kbps", "bandwidth_up_kbps", "created_at",
    ),
    "wifi_hotspots": (
        "id", "network_id", "name", "address", "latitude", "longitude", "ssid",
        "nas_identifier", "nas_address", "radius_secret", "active", "created_at",
    ),
    "wifi_access_points": ("id", "hotspot_id", "mac"),
    "wifi_identities": ("id", "phone", "user_id", "created_at"),
    "wifi_devices": (
        "id", "mac", "network_id", "identity_id", "randomised", "bound_at", "expires_at",
    ),
    "wifi_identity_log": (
        "id", "identity_id", "phone", "user_id", "mac", "hotspot_id", "method", "created_at",
    ),
    "wifi_sessions": (
        "id", "acct_unique_id", "acct_session_id", "nas_identifier", "nas_address", "mac",
        "framed_address", "state", "close_cause", "started_at", "updated_at", "stopped_at",
        "session_seconds", "input_octets", "output_octets",
    ),
}  # fmt: skip


def phone_for(n: int) -> str:
    """The E.164 mobile number of the ``n``-th identity: unique per ``n`` below 10**9 (7919
    is prime to 10, so the scatter is a bijection)."""
    return f"+79{(n * 7919 + 104_729) % 10**9:09d}"


def device_mac(n: int) -> str:
    """The MAC of the ``n``-th device (a universally administered address, unique per
    ``n`` below 2**32)."""
    low = (n * 2_654_435_761 + 7) % 2**32  # odd multiplier: a bijection modulo 2**32
    # One format, not a join over a generator: 2.4 million MACs at scale 1.
    return f"3c-22-{low >> 24:02x}-{low >> 16 & 0xFF:02x}-{low >> 8 & 0xFF:02x}-{low & 0xFF:02x}"


def _access_point_mac(n: int) -> str:
    return f"02-41-50-{n >> 16 & 0xFF:02x}-{n >> 8 & 0xFF:02x}-{n & 0xFF:02x}"


@dataclass(frozen=True)
class NetworkSpec:
    index: int
    operator: int  # 0: the metro's operator, 1: the city's
    code: str
    name: str
    kind: str
    ssid: str
    hotspots: int
    connections: int  # a day
    devices: int
    bandwidth_kbps: int


@dataclass(frozen=True)
class HotspotSpec:
    network: int
    index: int  # in the city, from 0
    name: str
    address: str
    latitude: float
    longitude: float
    nas_identifier: str
    nas_address: str
    secret: str


@dataclass
class WifiCity(CityBase):
    def __post_init__(self) -> None:
        super().__post_init__()
        scale = self.plan.scale

        def count(full: float, minimum: int = 1) -> int:
            return max(minimum, round(full * scale))

        self.wifi_operators_base = self.reserve("organisations", 2)
        self.identities = count(IDENTITIES, 10)
        devices = max(self.identities, round(self.identities * DEVICES_PER_IDENTITY))
        lines = min(METRO_LINES, count(METRO_STATIONS))
        stations = count(METRO_STATIONS)
        kinds: list[tuple[str, str, str, str, int, int, int]] = [
            # (kind, code, name, SSID, hotspots, connections a day, kbps)
            *(
                ("metro", f"metro-{k + 1}", f"Метро, линия {k + 1}", "MT_FREE",
                 stations // lines + (k < stations % lines),
                 count(DAY_CONNECTIONS["metro"] / lines, 10), 10_000)
                for k in range(lines)
            ),
            ("park", "parks", "Парки", "Moscow_WiFi_Free", count(PARK_HOTSPOTS),
             count(DAY_CONNECTIONS["park"], 5), 20_000),
            ("dormitory", "dormitories", "Студенческие общежития", "Moscow_WiFi_Free",
             count(DORMITORIES), count(DAY_CONNECTIONS["dormitory"], 5), 50_000),
            ("bike_lane", "bike-lanes", "Велодорожки", "Moscow_WiFi_Free",
             count(BIKE_LANE_HOTSPOTS), count(DAY_CONNECTIONS["bike_lane"], 5), 5_000),
        ]  # fmt: skip
        total_connections = sum(k[5] for k in kinds)
        self.networks: list[NetworkSpec] = []
        assigned = 0
        for i, (kind, code, name, ssid, spots, connections, kbps) in enumerate(kinds):
            # Devices in proportion to the network's connections, at least one each.
            share = (
                devices - assigned
                if i == len(kinds) - 1
                else max(1, round(devices * connections / total_connections))
            )
            assigned += share
            self.networks.append(
                NetworkSpec(
                    i, 0 if kind == "metro" else 1, code, name, kind, ssid, spots,
                    connections, max(1, share), kbps,
                )
            )  # fmt: skip
        self.devices = sum(n.devices for n in self.networks)
        rng = self._rng("wifi-hotspots")
        self.hotspots: list[HotspotSpec] = []
        for network in self.networks:
            for k in range(network.hotspots):
                n = len(self.hotspots)
                okrug, latitude, longitude = OKRUGS[rng.randrange(len(OKRUGS))]
                label = {
                    "metro": f"Станция {k + 1} линии {network.index + 1}",
                    "park": f"Парк, вход {k + 1}",
                    "dormitory": f"Общежитие № {k + 1}",
                    "bike_lane": f"Велодорожка, точка {k + 1}",
                }[network.kind]
                self.hotspots.append(
                    HotspotSpec(
                        network=network.index,
                        index=n,
                        name=label,
                        address=f"{okrug}, ул. {rng.choice(STREETS)}, д. {rng.randint(1, 140)}",
                        latitude=round(latitude + rng.uniform(-0.05, 0.05), 6),
                        longitude=round(longitude + rng.uniform(-0.08, 0.08), 6),
                        nas_identifier=f"{network.code}-{k + 1}",
                        nas_address=f"10.{100 + network.index}.{k // 250}.{k % 250 + 1}",
                        secret=f"{rng.getrandbits(128):032x}",
                    )
                )
        self._hotspots_of = [
            [h for h in self.hotspots if h.network == network.index] for network in self.networks
        ]
        self._first_device = []
        first = 0
        for network in self.networks:
            self._first_device.append(first)
            first += network.devices

    # --- ids ------------------------------------------------------------------------

    def network_id(self, index: int) -> int:
        return self.ids.get("wifi_networks", 0) + index + 1

    def hotspot_id(self, index: int) -> int:
        return self.ids.get("wifi_hotspots", 0) + index + 1

    def identity_id(self, index: int) -> int:
        return self.ids.get("wifi_identities", 0) + index + 1

    def device_index(self, network: int, k: int) -> int:
        """The city-wide index of the ``k``-th device bound on ``network``."""
        return self._first_device[network] + k

    def hotspot(self, nas_identifier: str) -> HotspotSpec:
        return next(h for h in self.hotspots if h.nas_identifier == nas_identifier)

    # --- rows -----------------------------------------------------------------------

    def wifi_organisation_rows(self) -> Rows:
        base = self.wifi_operators_base
        yield (base + 1, "wifi_operator", "Оператор Wi-Fi метрополитена", "Metro Wi-Fi operator",
               None, "ЦАО, ул. Тверская, д. 1", 55.757, 37.615, self.created_at)  # fmt: skip
        yield (base + 2, "wifi_operator", "Городская сеть Wi-Fi", "City Wi-Fi network",
               None, "ЦАО, ул. Тверская, д. 13", 55.761, 37.609, self.created_at)  # fmt: skip

    def wifi_network_rows(self) -> Rows:
        for n in self.networks:
            yield (self.network_id(n.index), self.wifi_operators_base + n.operator + 1, n.code,
                   n.name, n.kind, BINDING_DAYS, SESSION_SECONDS, n.bandwidth_kbps,
                   n.bandwidth_kbps // 4, self.created_at)  # fmt: skip

    def wifi_hotspot_rows(self) -> Rows:
        for h in self.hotspots:
            network = self.networks[h.network]
            yield (self.hotspot_id(h.index), self.network_id(h.network), h.name, h.address,
                   h.latitude, h.longitude, network.ssid, h.nas_identifier, h.nas_address,
                   h.secret, True, self.created_at)  # fmt: skip

    def wifi_access_point_rows(self) -> Rows:
        base = self.ids.get("wifi_access_points", 0)
        for h in self.hotspots:
            for k in range(2):
                n = 2 * h.index + k
                yield (base + n + 1, self.hotspot_id(h.index), _access_point_mac(n))

    def wifi_identity_rows(self) -> Rows:
        for n in range(self.identities):
            yield (self.identity_id(n), phone_for(n), None, self.created_at)

    def _bindings(self) -> Iterator[tuple[int, int, int, datetime, HotspotSpec]]:
        """(device index, network, identity index, bound_at, hotspot) of every device."""
        rng = self._rng("wifi-devices")
        randrange = rng.randrange
        for network in self.networks:
            spots = self._hotspots_of[network.index]
            for k in range(network.devices):
                n = self.device_index(network.index, k)
                # Bound 2 to 150 days before the start: still bound, past the roaming day.
                bound = self.created_at - timedelta(seconds=2 * 86400 + randrange(148 * 86400))
                yield (n, network.index, n % self.identities, bound, spots[randrange(len(spots))])

    def wifi_device_rows(self) -> Rows:
        base = self.ids.get("wifi_devices", 0)
        for n, network, identity, bound, _spot in self._bindings():
            yield (base + n + 1, device_mac(n), self.network_id(network),
                   self.identity_id(identity), False, bound,
                   bound + timedelta(days=BINDING_DAYS))  # fmt: skip

    def wifi_identity_log_rows(self) -> Rows:
        base = self.ids.get("wifi_identity_log", 0)
        for n, _network, identity, bound, spot in self._bindings():
            yield (base + n + 1, self.identity_id(identity), phone_for(identity), None,
                   device_mac(n), self.hotspot_id(spot.index), "sms", bound)  # fmt: skip

    def wifi_session_rows(self) -> Rows:
        """The day before ``start``: every connection closed by its Stop."""
        rng = self._rng("wifi-sessions")
        random_, randrange = rng.random, rng.randrange
        day = self.start - timedelta(days=1)
        midnight = datetime.combine(day, time(0), tzinfo=self.tz).astimezone(UTC)
        base = self.ids.get("wifi_sessions", 0)
        n = 0
        for network in self.networks:
            hours = METRO_HOURS if network.kind == "metro" else LEISURE_HOURS
            weights = [w / sum(hours) for w in hours]
            spots = self._hotspots_of[network.index]
            metro = network.kind == "metro"
            for hour, weight in enumerate(weights):
                for _ in range(round(network.connections * weight)):
                    n += 1
                    spot = spots[randrange(len(spots))]
                    device = self.device_index(network.index, randrange(network.devices))
                    started = midnight + timedelta(seconds=hour * 3600 + randrange(3600))
                    seconds = 120 + randrange(40 * 60 if metro else 3 * 3600)
                    stopped = started + timedelta(seconds=seconds)
                    octets = int(seconds * (2_000 + 60_000 * random_()))
                    yield (base + n, f"{SYNTHETIC_SESSION_PREFIX}{n:012d}", f"{n:08X}",
                           spot.nas_identifier, spot.nas_address, device_mac(device), None,
                           "closed", "stop", started, stopped, stopped, seconds,
                           octets // 8, octets)  # fmt: skip

    def session_count(self) -> int:
        total = 0
        for network in self.networks:
            hours = METRO_HOURS if network.kind == "metro" else LEISURE_HOURS
            total += sum(round(network.connections * w / sum(hours)) for w in hours)
        return total

    def tables(self) -> list[Table]:
        def table(name: str, rows: Callable[[], Rows], count: Callable[[], int]) -> Table:
            return Table(name, COLUMNS[name], rows, count)

        return [
            *super().tables(),
            table("organisations", self.wifi_organisation_rows, lambda: 2),
            table("wifi_networks", self.wifi_network_rows, lambda: len(self.networks)),
            table("wifi_hotspots", self.wifi_hotspot_rows, lambda: len(self.hotspots)),
            table("wifi_access_points", self.wifi_access_point_rows,
                  lambda: 2 * len(self.hotspots)),
            table("wifi_identities", self.wifi_identity_rows, lambda: self.identities),
            table("wifi_devices", self.wifi_device_rows, lambda: self.devices),
            table("wifi_identity_log", self.wifi_identity_log_rows, lambda: self.devices),
            table("wifi_sessions", self.wifi_session_rows, self.session_count),
        ]  # fmt: skip
