"""The city-wide Slot file of SMART Scheduling Links, each line the resource
``fhir.slot`` gives (a test compares them), written in parts by id (each its own short
read: neither memory nor a transaction grows with the city).

Two writers of the same lines; which one runs is chosen here by the database, once:
PostgreSQL writes the lines itself, one ``COPY`` a range of ``PUBLISH_RANGE`` ids
streamed as it comes (millions of lines: the rows never become Python objects), the
ranges written by ``PUBLISH_CONNECTIONS`` sessions at once; elsewhere (SQLite, the
embedded demo) Python fills one template per row, ``service.PUBLISH_BATCH`` rows a
read."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import ColumnElement, Subquery, Text, case, cast, func, literal

from infocity.core.db import get_engine
from infocity.core.settings import get_settings
from infocity.health import service
from infocity.health.fhir import resources as fhir

SlotLines = Callable[[datetime], Iterator[bytes]]

PUBLISH_RANGE = 50_000  # slot ids a statement of PostgreSQL's writer reads
PUBLISH_CONNECTIONS = 2  # database sessions writing ranges at once (the cores to use)


def booking_link(slot_id: int) -> str:
    """The portal's page that books the slot (after logging in)."""
    return f"{booking_prefix()}{slot_id}"


def booking_prefix() -> str:
    return f"{get_settings().base_url.rstrip('/')}/health/book/confirm?slot="


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _extensions() -> tuple[str, str]:
    """What a Slot's line has around its id at the end: the booking link's opening (up
    to the link's prefix) and the capacity's closing."""
    link = _json(booking_prefix())[:-1]  # the opening quote and the escaped prefix
    opening = f'"extension":[{{"url":"{fhir.BOOKING_DEEP_LINK}","valueUrl":{link}'
    closing = f'"}},{{"url":"{fhir.SLOT_CAPACITY}","valueInteger":1}}]}}\n'
    return opening, closing


def in_python(now: datetime, batch_size: int = service.PUBLISH_BATCH) -> Iterator[bytes]:
    """Each line one string template filled with the row's numbers and instants; the
    parts shared by many (a doctor's Schedule reference, a specialty's concept) are
    written once."""
    concepts = {s.id: _json([fhir.specialty_concept(s)]) for s in service.list_specialties()}
    schedules = {d.id: _json(fhir.ref("Schedule", d.id, d.name)) for d in service.list_doctors()}
    opening, closing = _extensions()
    after = 0
    while True:
        batch = service.published_slots(after, limit=batch_size, now=now)
        lines = [
            f'{{"resourceType":"Slot","id":"{s.id}","schedule":'
            f"{schedules.get(s.practitioner_id) or _json(fhir.ref('Schedule', s.practitioner_id))}"
            f',"status":"free","start":"{fhir.instant(s.starts_at)}"'
            f',"end":"{fhir.instant(s.ends_at)}","serviceType":{concepts[s.specialty_id]},'
            f"{opening}{s.id}{closing}"
            for s in batch
        ]
        if lines:
            yield "".join(lines).encode()
        if len(batch) < batch_size:
            return
        after = batch[-1].id


def _instant(column: Any) -> ColumnElement[str]:
    """``fhir.instant`` in SQL: ISO 8601 in UTC with its offset, the microseconds only
    when there are some (as Python's ``isoformat``). A whole second, as every slot's, is
    cut out of the timestamp's JSON (``"YYYY-MM-DDTHH:MI:SS"``), several times cheaper
    than formatting it with ``to_char``."""
    utc = func.timezone(_text("UTC"), column)
    whole = cast(func.to_json(utc), Text)
    return func.concat(
        case(
            (func.date_trunc(_text("second"), utc) == utc, func.substr(whole, 2, 19)),
            else_=func.to_char(utc, _text('YYYY-MM-DD"T"HH24:MI:SS.US')),
        ),
        _text("+00:00"),
    )


def _escaped(value: Any) -> ColumnElement[str]:
    """A text as a JSON string: PostgreSQL escapes what ``json.dumps`` does (quotes,
    backslashes, control characters) and, like it with ``ensure_ascii=False``, nothing
    else."""
    return cast(func.to_json(value), Text)


def _text(value: str) -> ColumnElement[str]:
    """A constant of the line, typed (``concat`` takes any type, so it must be told)."""
    return cast(literal(value), Text)


def _schedule(doctor: Any) -> ColumnElement[str]:
    """A doctor's part of the line, from the Schedule reference to the start's opening
    quote (computed once a doctor). A retired post's Schedule is named by id alone, as
    ``in_python`` does."""
    display = case(
        (
            doctor.active & (doctor.name != ""),
            func.concat(_text(',"display":'), _escaped(doctor.name)),
        ),
        else_=_text(""),
    )
    return func.concat(
        _text('","schedule":{"reference":"Schedule/'),
        doctor.id,
        _text('"'),
        display,
        _text('},"status":"free","start":"'),
    )


def _line(concepts: dict[int, str], opening: str, closing: str) -> Callable[[Subquery], Any]:
    """The SQL of one Slot's line over a batch's columns (``service.published_lines``)."""

    def line(batch: Subquery) -> ColumnElement[str]:
        c = batch.c
        concept = case(
            *((c.specialty_id == id_, _text(text)) for id_, text in concepts.items()),
            else_=_text("[]"),
        )
        return func.concat(
            _text('{"resourceType":"Slot","id":"'),
            c.id,
            c.schedule,
            _instant(c.starts_at),
            _text('","end":"'),
            _instant(c.ends_at),
            _text('","serviceType":'),
            concept,
            _text("," + opening),
            c.id,
            _text(closing.removesuffix("\n")),  # COPY ends each line
        )

    return line


def _ranges(span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    """The city's slot ids cut into ranges ``(after, up_to]`` of ``size`` ids."""
    low, high = span
    return [(after, min(after + size, high)) for after in range(low - 1, high, size)]


def in_postgres(now: datetime, batch_size: int = PUBLISH_RANGE) -> Iterator[bytes]:
    """PostgreSQL writes the lines (``service.published_lines``), one ``COPY`` a range of
    ``batch_size`` ids, in order: the same template, the specialties' concepts written by
    Python once and given to it."""
    concepts = {s.id: _json([fhir.specialty_concept(s)]) for s in service.list_specialties()}
    line = _line(concepts, *_extensions())
    for after, up_to in _ranges(service.published_span(), batch_size):
        yield from service.published_lines(line, _schedule, after, up_to, now=now)


def in_parallel(
    now: datetime, batch_size: int = PUBLISH_RANGE, connections: int = PUBLISH_CONNECTIONS
) -> Iterator[bytes]:
    """``in_postgres``'s bytes, its ranges written by ``connections`` database sessions at
    once (one core each) and handed on in order; at most two ranges a session are held
    in memory at a time."""
    concepts = {s.id: _json([fhir.specialty_concept(s)]) for s in service.list_specialties()}
    line = _line(concepts, *_extensions())

    def written(part: tuple[int, int]) -> bytes:
        return b"".join(service.published_lines(line, _schedule, *part, now=now))

    ranges = iter(_ranges(service.published_span(), batch_size))
    with ThreadPoolExecutor(connections, thread_name_prefix="slot-lines") as pool:
        pending = deque(pool.submit(written, part) for part in islice(ranges, 2 * connections))
        while pending:
            text = pending.popleft().result()
            for part in islice(ranges, 1):
                pending.append(pool.submit(written, part))
            if text:
                yield text


def slot_lines() -> SlotLines:
    """The writer of this database: on PostgreSQL over ``PUBLISH_CONNECTIONS`` sessions."""
    return in_parallel if get_engine().dialect.name == "postgresql" else in_python
