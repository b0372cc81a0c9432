"""Rules of the city's public Wi-Fi: pure functions, no database, no clock.

A device is known by its MAC address (the controller's Calling-Station-Id); a person by
their phone number, confirmed with a one-time code sent by SMS. A device bound to a
person passes without the portal on that network until the binding expires, and on any
other network of the city for a day after it was bound (roaming).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from infocity.connectivity import errors
from infocity.core.i18n import N_

# --- Networks --------------------------------------------------------------------------


class NetworkKind(StrEnum):
    METRO = "metro"
    PARK = "park"
    DORMITORY = "dormitory"
    BIKE_LANE = "bike_lane"


NETWORK_KIND_LABELS = {
    NetworkKind.METRO: N_("Metro"),
    NetworkKind.PARK: N_("Park"),
    NetworkKind.DORMITORY: N_("Student dormitory"),
    NetworkKind.BIKE_LANE: N_("Bike lane"),
}

# The law asks for the identity to be checked again after this long, unless a network says
# otherwise (a dormitory may bind for the academic year).
DEFAULT_BINDING_DAYS = 183
# A device bound anywhere passes on every network of the city for this long.
ROAMING = timedelta(hours=24)
DEFAULT_SESSION_SECONDS = 4 * 3600
DEFAULT_BANDWIDTH_KBPS = 10_000

# --- One-time codes ----------------------------------------------------------------------

CODE_DIGITS = 6
CODE_VALID = timedelta(minutes=5)
CODE_ATTEMPTS = 3

# SMS sends: one per phone a minute, and daily caps per phone, device and client address
# (a metro station's NAT puts many riders behind one address: its cap is high).
SMS_COOLDOWN_SECONDS = 60
SMS_DAY_SECONDS = 86400
SMS_PER_PHONE_A_DAY = 5
SMS_PER_DEVICE_A_DAY = 5
SMS_PER_ADDRESS_A_DAY = 500


class CodeState(StrEnum):
    SENT = "sent"  # waiting for the person to type it
    CONFIRMED = "confirmed"  # typed right in time: the device is bound
    EXHAUSTED = "exhausted"  # typed wrong too many times


class CodeMove(StrEnum):
    CONFIRM = "confirm"
    WRONG_GUESS = "wrong_guess"  # stays sent while attempts remain
    LAST_WRONG_GUESS = "last_wrong_guess"


TRANSITIONS: dict[tuple[CodeState, CodeMove], CodeState] = {
    (CodeState.SENT, CodeMove.CONFIRM): CodeState.CONFIRMED,
    (CodeState.SENT, CodeMove.WRONG_GUESS): CodeState.SENT,
    (CodeState.SENT, CodeMove.LAST_WRONG_GUESS): CodeState.EXHAUSTED,
}


def states_before(move: CodeMove) -> tuple[CodeState, ...]:
    """The states ``move`` may start from (the guard of its UPDATE)."""
    return tuple(state for state, m in TRANSITIONS if m is move)


def next_state(state: CodeState, move: CodeMove) -> CodeState:
    target = TRANSITIONS.get((state, move))
    if target is None:
        raise errors.CodeNotValid()
    return target


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(secret_key: str, challenge: str, code: str) -> str:
    """What is kept of a code: keyed with the server's secret and the challenge, so a copy
    of the table does not give the codes away by trying all million of them."""
    message = f"{challenge}:{code}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def normalize_code(value: str) -> str | None:
    code = re.sub(r"\s+", "", value)
    return code if re.fullmatch(rf"\d{{{CODE_DIGITS}}}", code) else None


# --- Sessions (written by FreeRADIUS through its SQL module) -------------------------------


class SessionState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CloseCause(StrEnum):
    STOP = "stop"  # the controller's Accounting-Request Stop
    STALE = "stale"  # no interim update for too long
    NAS_REBOOT = "nas_reboot"  # Accounting-On/Off from the controller


SESSION_TRANSITIONS: dict[tuple[SessionState, CloseCause], SessionState] = {
    (SessionState.OPEN, cause): SessionState.CLOSED for cause in CloseCause
}
# Controllers send an interim update every 10 minutes; three missed ones close a session.
STALE_AFTER = timedelta(minutes=30)
# The peak of a city day counts the sessions open in it that started that day or the
# day before: a session lasts the network's Session-Timeout (4 hours by default), and
# looking further back would read more days of sessions for every day's peak.
PEAK_LOOKBACK = timedelta(days=1)

# --- Devices ------------------------------------------------------------------------

_MAC_DIGITS = re.compile(r"[0-9a-f]{12}")
_MAC_SEPARATORS = re.compile(r"[\s:.\-]")


def normalize_mac(value: str) -> str | None:
    """The MAC as RADIUS carries it here (``aa-bb-cc-dd-ee-ff``); None if it is not one.
    Colons, dashes, dots (Cisco) and no separators are accepted; the broadcast, the
    all-zero and multicast addresses are not a device."""
    digits = _MAC_SEPARATORS.sub("", value.strip().lower())
    if not _MAC_DIGITS.fullmatch(digits):
        return None
    if digits in ("000000000000", "ffffffffffff") or int(digits[:2], 16) & 1:
        return None
    return "-".join(digits[i : i + 2] for i in range(0, 12, 2))


def is_randomised_mac(mac: str) -> bool:
    """A locally administered address (the bit 0x02 of the first octet): phones make one
    up per network and change it, so the identity is carried by the portal's cookie."""
    return bool(int(mac[:2], 16) & 0x02)


# --- Phones -------------------------------------------------------------------------------

PHONE_REGION = "RU"


def normalize_phone(value: str) -> str | None:
    """The number in E.164 (``+79161234567``); None if it is not a valid mobile or fixed
    number. A number without a country code is read as Russian (8 916… and 916… too)."""
    text = value.strip()
    if not text or len(text) > 32:
        return None
    try:
        number = phonenumbers.parse(text, PHONE_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(phone: str | None) -> str:
    """``+7 916 ***-**-67``: enough for a person to recognise their number."""
    if not phone:
        return ""
    return f"{phone[:-7]} ***-**-{phone[-2:]}"


# --- Bindings -----------------------------------------------------------------------


@dataclass(frozen=True)
class Binding:
    network_id: int
    bound_at: datetime
    expires_at: datetime


def binding_expiry(bound_at: datetime, binding_days: int) -> datetime:
    return bound_at + timedelta(days=binding_days)


def passes(bindings: list[Binding], network_id: int, now: datetime) -> bool:
    """Whether a device with ``bindings`` passes without the portal on ``network_id``:
    bound there and not expired, or bound anywhere within the roaming day. The RADIUS
    view in the migration says the same in SQL."""
    for binding in bindings:
        if binding.expires_at <= now:
            continue
        if binding.network_id == network_id or now < binding.bound_at + ROAMING:
            return True
    return False


# --- The hotspots file -----------------------------------------------------------------

HOTSPOT_COLUMNS = (
    "network",
    "name",
    "address",
    "latitude",
    "longitude",
    "ssid",
    "nas_identifier",
    "nas_address",
    "access_points",
)
REQUIRED_COLUMNS = HOTSPOT_COLUMNS[:-1]
_NAS_IDENTIFIER = re.compile(r"[A-Za-z0-9._\-]{3,64}")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")
MAX_SSID = 32


@dataclass(frozen=True)
class HotspotRow:
    line: int
    network: str
    name: str
    address: str
    latitude: float
    longitude: float
    ssid: str
    nas_identifier: str
    nas_address: str
    access_points: tuple[str, ...]


@dataclass(frozen=True)
class RowProblem:
    """A refused line of a hotspots file: an English message id and its parameters."""

    line: int
    message: str
    params: tuple[tuple[str, Any], ...] = ()


def valid_ipv4(value: str) -> bool:
    match = _IPV4.fullmatch(value.strip())
    return match is not None and all(int(part) <= 255 for part in match.groups())


def valid_nas_identifier(value: str) -> bool:
    return _NAS_IDENTIFIER.fullmatch(value) is not None


def _coordinate(value: str, limit: float) -> float | None:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return number if -limit <= number <= limit else None


def _access_points(value: str) -> tuple[list[str], list[str]]:
    macs, bad = [], []
    # Separated by spaces: the columns are separated by ";" or ",".
    for item in value.split():
        mac = normalize_mac(item)
        if mac is None:
            bad.append(item)
        else:
            macs.append(mac)
    return macs, bad


def _row(line: int, record: dict[str, str]) -> HotspotRow | RowProblem:
    values = {name: (record.get(name) or "").strip() for name in HOTSPOT_COLUMNS}
    missing = [name for name in REQUIRED_COLUMNS if not values[name]]
    if missing:
        return RowProblem(line, N_("empty: %(columns)s"), (("columns", ", ".join(missing)),))
    latitude = _coordinate(values["latitude"], 90)
    longitude = _coordinate(values["longitude"], 180)
    if latitude is None or longitude is None:
        return RowProblem(line, N_("latitude or longitude is not a coordinate"))
    if len(values["ssid"]) > MAX_SSID or len(values["name"]) > 200:
        return RowProblem(line, N_("the SSID is longer than 32 characters or the name too long"))
    if not valid_nas_identifier(values["nas_identifier"]):
        return RowProblem(line, N_("the NAS identifier may have only Latin letters, digits, . _ -"))
    if not valid_ipv4(values["nas_address"]):
        return RowProblem(line, N_("the controller's address is not an IPv4 address"))
    macs, bad = _access_points(values["access_points"])
    if bad:
        return RowProblem(line, N_("not a MAC address: %(value)s"), (("value", bad[0][:40]),))
    return HotspotRow(
        line=line,
        network=values["network"],
        name=values["name"],
        address=values["address"],
        latitude=latitude,
        longitude=longitude,
        ssid=values["ssid"],
        nas_identifier=values["nas_identifier"],
        nas_address=values["nas_address"],
        access_points=tuple(macs),
    )


def parse_hotspots(text: str) -> tuple[list[HotspotRow], list[RowProblem]]:
    """The rows of a hotspots file (CSV with a header; ``;`` or ``,`` between columns),
    and the problems by line; a NAS identifier twice in the file is a problem."""
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    absent = [name for name in REQUIRED_COLUMNS if name not in header]
    if absent:
        return [], [
            RowProblem(
                1, N_("the header has no columns: %(columns)s"), (("columns", ", ".join(absent)),)
            )
        ]
    reader.fieldnames = header
    rows: list[HotspotRow] = []
    problems: list[RowProblem] = []
    seen: set[str] = set()
    for record in reader:
        line = reader.line_num
        parsed = _row(line, record)
        if isinstance(parsed, RowProblem):
            problems.append(parsed)
        elif parsed.nas_identifier in seen:
            problems.append(RowProblem(line, N_("this NAS identifier is already in the file")))
        else:
            seen.add(parsed.nas_identifier)
            rows.append(parsed)
    return rows, problems


def decode_file(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) or Windows-1251; ValueError otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise ValueError("neither UTF-8 nor Windows-1251") from exc


AUDIT_ACTIONS = {
    "connectivity.network.create": N_("Wi-Fi network created"),
    "connectivity.hotspots.import": N_("Wi-Fi hotspots imported"),
    "connectivity.identity_log.purge": N_("Wi-Fi identity log purged"),
}
