"""Pure rules of school video surveillance: placements, what a probe found, a camera's
health with its one transitions table, the CSV of cameras, and uptime arithmetic."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from infocity.core.i18n import N_
from infocity.safety.errors import RowProblem


class Placement(StrEnum):
    PERIMETER = "perimeter"
    ENTRANCE = "entrance"
    CORRIDOR = "corridor"


PLACEMENT_LABELS = {
    Placement.PERIMETER: N_("Perimeter"),
    Placement.ENTRANCE: N_("Entrance"),
    Placement.CORRIDOR: N_("Corridor"),
}


class ProbeStatus(StrEnum):
    """What the last probe of a camera found; every value but ``ok`` is a failure."""

    OK = "ok"
    TIMEOUT = "timeout"  # no answer within the deadline (a silent host)
    REFUSED = "refused"  # the port is closed
    UNREACHABLE = "unreachable"  # no route, unknown host
    RTSP_ERROR = "rtsp_error"  # it answers, but not a working RTSP stream
    NO_FRAME = "no_frame"  # the stream gave no picture in time
    FROZEN = "frozen"  # the picture is the same as at the previous check


PROBE_STATUS_LABELS = {
    ProbeStatus.OK: N_("Working"),
    ProbeStatus.TIMEOUT: N_("No answer"),
    ProbeStatus.REFUSED: N_("Port closed"),
    ProbeStatus.UNREACHABLE: N_("Unreachable"),
    ProbeStatus.RTSP_ERROR: N_("Stream error"),
    ProbeStatus.NO_FRAME: N_("No picture"),
    ProbeStatus.FROZEN: N_("Frozen picture"),
}

# Found by the slow (frame) cycle: the fast cycle cannot clear them, only a new frame can.
PICTURE_FAILURES = frozenset({ProbeStatus.NO_FRAME, ProbeStatus.FROZEN})


class Health(StrEnum):
    """A camera's health as the outages see it: it changes only after several probes in a
    row agree, so one lost probe neither opens nor closes an outage."""

    UNKNOWN = "unknown"  # registered, not probed enough yet
    UP = "up"
    DOWN = "down"  # an outage is open


TRANSITIONS: dict[Health, frozenset[Health]] = {
    Health.UNKNOWN: frozenset({Health.UP, Health.DOWN}),
    Health.UP: frozenset({Health.DOWN}),
    Health.DOWN: frozenset({Health.UP}),
}

HEALTH_LABELS = {
    Health.UNKNOWN: N_("Not checked yet"),
    Health.UP: N_("Working"),
    Health.DOWN: N_("Out of order"),
}

AUDIT_ACTIONS = {
    "safety.building.register": N_("Registered a school building for video surveillance"),
    "safety.staff.assign": N_("Assigned security staff to a school building"),
    "safety.cameras.import": N_("Imported school cameras"),
    "safety.credentials.rotate": N_("Re-encrypted camera credentials with the newest key"),
}


@dataclass(frozen=True)
class Counters:
    """A camera's health and the probes in a row that agree against it."""

    health: Health
    failures: int
    successes: int


def next_counters(
    current: Counters, ok: bool, *, failures_to_open: int, successes_to_close: int
) -> Counters:
    """The health after one more probe: DOWN after ``failures_to_open`` failures in a row,
    UP after ``successes_to_close`` successes in a row (an unknown camera becomes UP after
    the same number of successes)."""
    failures = 0 if ok else current.failures + 1
    successes = current.successes + 1 if ok else 0
    health = current.health
    if not ok and failures >= failures_to_open:
        health = Health.DOWN
    elif ok and successes >= successes_to_close:
        health = Health.UP
    if health != current.health and health not in TRANSITIONS[current.health]:
        health = current.health
    return Counters(health, failures, successes)


# --- The CSV of cameras ------------------------------------------------------------

CSV_COLUMNS = (
    "school_id",
    "address",
    "code",
    "stream_url",
    "placement",
    "model",
    "installed_on",
    "username",
    "password",
    "onvif_url",  # optional column: the camera's ONVIF device service
)
REQUIRED_COLUMNS = CSV_COLUMNS[:6]
MAX_CSV_ROWS = 20_000


@dataclass(frozen=True)
class CameraRow:
    line: int
    school_id: int
    address: str
    code: str
    stream_url: str
    placement: Placement
    model: str
    installed_on: date | None
    username: str | None
    password: str | None
    onvif_url: str | None = None


def stream_url_problem(url: str) -> str | None:
    """Why ``url`` is not an RTSP address a probe can reach, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("rtsp", "rtsps") or not parts.hostname:
        return N_("The stream address must be rtsp://host[:port]/path.")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return N_("The stream address has a wrong port.")
    if parts.username or parts.password:
        return N_("Put the login and password in their own columns, not in the address.")
    return None


def onvif_url_problem(url: str) -> str | None:
    """Why ``url`` is not an ONVIF device service address, or None."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return N_("The ONVIF address must be http://host[:port]/onvif/device_service.")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return N_("The ONVIF address has a wrong port.")
    if parts.username or parts.password:
        return N_("Put the login and password in their own columns, not in the address.")
    return None


def _row(line: int, raw: dict[str, str]) -> CameraRow | RowProblem:
    values = {k: (raw.get(k) or "").strip() for k in CSV_COLUMNS}
    missing = [k for k in REQUIRED_COLUMNS if not values[k]]
    if missing:
        return RowProblem(line, N_("Missing %(columns)s."), {"columns": ", ".join(missing)})
    if not values["school_id"].isdigit():
        return RowProblem(line, N_("The school id must be a number."), {})
    problem = stream_url_problem(values["stream_url"])
    if problem:
        return RowProblem(line, problem, {})
    if values["placement"] not in set(Placement):
        return RowProblem(
            line,
            N_("Unknown placement %(placement)s: use perimeter, entrance or corridor."),
            {"placement": values["placement"][:40]},
        )
    installed: date | None = None
    if values["installed_on"]:
        try:
            installed = date.fromisoformat(values["installed_on"])
        except ValueError:
            return RowProblem(line, N_("The installation date must be YYYY-MM-DD."), {})
    onvif = values["onvif_url"]
    if onvif and (problem := onvif_url_problem(onvif)):
        return RowProblem(line, problem, {})
    if len(values["code"]) > 100 or max(len(values["stream_url"]), len(onvif)) > 500:
        return RowProblem(line, N_("A value is too long."), {})
    return CameraRow(
        line=line,
        school_id=int(values["school_id"]),
        address=values["address"],
        code=values["code"],
        stream_url=values["stream_url"],
        placement=Placement(values["placement"]),
        model=values["model"][:200],
        installed_on=installed,
        username=values["username"] or None,
        password=values["password"] or None,
        onvif_url=onvif or None,
    )


def parse_camera_csv(text: str) -> tuple[list[CameraRow], list[RowProblem]]:
    """The cameras of a CSV file (header line first) and the problems by line; a code or a
    stream address repeated inside the file is a problem of its later line."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        return [], [RowProblem(1, N_("Missing %(columns)s."), {"columns": ", ".join(missing)})]
    reader.fieldnames = header
    rows: list[CameraRow] = []
    problems: list[RowProblem] = []
    codes: set[str] = set()
    urls: set[str] = set()
    for raw in reader:
        line = reader.line_num
        if line > MAX_CSV_ROWS + 1:
            problems.append(RowProblem(line, N_("Too many lines in one file."), {}))
            break
        if not any((v or "").strip() for v in raw.values() if isinstance(v, str)):
            continue
        parsed = _row(line, raw)
        if isinstance(parsed, RowProblem):
            problems.append(parsed)
        elif parsed.code in codes or parsed.stream_url in urls:
            problems.append(RowProblem(line, N_("This camera is already in the file."), {}))
        else:
            codes.add(parsed.code)
            urls.add(parsed.stream_url)
            rows.append(parsed)
    return rows, problems


# --- Uptime ------------------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    """A stretch of time one probe status lasted (``ended_at`` None: it still does)."""

    status: ProbeStatus
    started_at: datetime
    ended_at: datetime | None


def observed_and_up(
    spans: Iterable[Span], start: datetime, end: datetime, now: datetime
) -> tuple[float, float]:
    """Seconds of ``[start, end)`` covered by probes, and of those the seconds working."""
    observed = up = 0.0
    for span in spans:
        begin = max(span.started_at, start)
        finish = min(span.ended_at or now, end, now)
        if finish <= begin:
            continue
        seconds = (finish - begin).total_seconds()
        observed += seconds
        if span.status == ProbeStatus.OK:
            up += seconds
    return observed, up


def share(part: float, whole: float) -> float | None:
    """``part / whole``, None when there is nothing to divide."""
    return part / whole if whole > 0 else None
