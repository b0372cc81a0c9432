"""Rules of state exam results: pure functions, no database, no clock.

A participant is found by the registration code of their exam and the number of the
identity document they sat it with (the number alone, without the series). A result is
public from its publication instant; of a subject's versions, the newest public one is
shown.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from infocity.core.i18n import N_
from infocity.education import errors

# --- Subjects ------------------------------------------------------------------------

SUBJECT_LABELS: dict[str, str] = {
    "russian": N_("Russian language"),
    "mathematics_basic": N_("Mathematics (basic level)"),
    "mathematics_profile": N_("Mathematics (profile level)"),
    "physics": N_("Physics"),
    "chemistry": N_("Chemistry"),
    "informatics": N_("Computer science"),
    "biology": N_("Biology"),
    "history": N_("History"),
    "geography": N_("Geography"),
    "social_studies": N_("Social studies"),
    "literature": N_("Literature"),
    "english": N_("English language"),
    "german": N_("German language"),
    "french": N_("French language"),
    "spanish": N_("Spanish language"),
    "chinese": N_("Chinese language"),
}
SUBJECTS = tuple(SUBJECT_LABELS)
MAX_SCORE = 100

# --- Publications: scheduled, announced to subscribers, done ------------------------


class PublicationState(StrEnum):
    SCHEDULED = "scheduled"  # imported, its instant not reached (or not yet seen)
    ANNOUNCING = "announcing"  # public: its one event queued, subscribers being told
    ANNOUNCED = "announced"  # every subscriber told


class PublicationMove(StrEnum):
    PUBLISH = "publish"  # the publication instant has passed
    FINISH = "finish"  # no subscriber left to tell
    MORE_RESULTS = "more_results"  # results added to a publication already announced


TRANSITIONS: dict[tuple[PublicationState, PublicationMove], PublicationState] = {
    (PublicationState.SCHEDULED, PublicationMove.PUBLISH): PublicationState.ANNOUNCING,
    (PublicationState.ANNOUNCING, PublicationMove.FINISH): PublicationState.ANNOUNCED,
    (PublicationState.ANNOUNCED, PublicationMove.MORE_RESULTS): PublicationState.ANNOUNCING,
}

PUBLICATION_STATE_LABELS = {
    PublicationState.SCHEDULED: N_("Scheduled"),
    PublicationState.ANNOUNCING: N_("Published, subscribers being notified"),
    PublicationState.ANNOUNCED: N_("Published, subscribers notified"),
}


def states_before(move: PublicationMove) -> tuple[PublicationState, ...]:
    """The states ``move`` may start from (the guard of its UPDATE)."""
    return tuple(state for state, m in TRANSITIONS if m is move)


def next_state(state: PublicationState, move: PublicationMove) -> PublicationState:
    target = TRANSITIONS.get((state, move))
    if target is None:
        raise errors.PublicationStateConflict()
    return target


# --- Identifying a participant -------------------------------------------------------

_CODE = re.compile(r"[0-9A-Z]{6,20}")
_DOCUMENT = re.compile(r"[0-9]{4,12}")
_SPACES = re.compile(r"[\s-]+")


def normalize_registration_code(value: str) -> str | None:
    """The code as stored (upper case, no spaces or dashes); None if it cannot be one."""
    code = _SPACES.sub("", value).upper()
    return code if _CODE.fullmatch(code) else None


def normalize_document_number(value: str) -> str | None:
    """The document's number alone, digits only; None if it cannot be one."""
    number = _SPACES.sub("", value)
    return number if _DOCUMENT.fullmatch(number) else None


def document_digest(registration_code: str, document_number: str) -> str:
    """What is kept of the document number: a digest salted with the code, compared in
    constant time at each look-up."""
    return hashlib.sha256(f"{registration_code}:{document_number}".encode()).hexdigest()


# Compared against when no participant has the code, so that "not found" costs what
# "wrong document" does.
ABSENT_DIGEST = document_digest("", "")


def passed(score: int, pass_mark: int) -> bool:
    return score >= pass_mark


@dataclass(frozen=True)
class Version:
    subject: str
    version: int
    score: int
    pass_mark: int
    published_at: datetime


def shown_results(versions: list[Version], now: datetime) -> list[Version]:
    """Per subject, the newest version whose publication instant has passed, in the order
    of ``SUBJECTS``."""
    newest: dict[str, Version] = {}
    for item in versions:
        if item.published_at > now:
            continue
        held = newest.get(item.subject)
        if held is None or item.version > held.version:
            newest[item.subject] = item
    order = {subject: i for i, subject in enumerate(SUBJECTS)}
    return sorted(newest.values(), key=lambda v: (order.get(v.subject, len(order)), v.subject))


# --- The results file ----------------------------------------------------------------

RESULT_COLUMNS = (
    "registration_code",
    "document_number",
    "subject",
    "score",
    "pass_mark",
    "published_at",
)
_INTEGER = re.compile(r"\d{1,3}")


@dataclass(frozen=True)
class ResultRow:
    line: int
    registration_code: str
    document_number: str
    subject: str
    score: int
    pass_mark: int
    published_at: datetime


@dataclass(frozen=True)
class RowProblem:
    """A refused line of a results file: an English message id and its parameters."""

    line: int
    message: str
    params: tuple[tuple[str, Any], ...] = ()


def decode_results_file(data: bytes) -> str:
    """UTF-8 (with or without a byte-order mark) or Windows-1251; ValueError otherwise."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise ValueError("neither UTF-8 nor Windows-1251") from exc


def parse_moment(value: str, tz: ZoneInfo) -> datetime | None:
    """An ISO 8601 date and time; without an offset it is the city's wall-clock time."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def _row_problems(record: dict[str, str], tz: ZoneInfo) -> tuple[list[str], ResultRow | None]:
    problems: list[str] = []
    code = normalize_registration_code(record["registration_code"])
    if code is None:
        problems.append(N_("the registration code must be 6 to 20 letters or digits"))
    number = normalize_document_number(record["document_number"])
    if number is None:
        problems.append(N_("the document number must be 4 to 12 digits, without the series"))
    subject = record["subject"].strip().lower()
    if subject not in SUBJECT_LABELS:
        problems.append(N_("unknown subject"))
    score_text, mark_text = record["score"].strip(), record["pass_mark"].strip()
    score = int(score_text) if _INTEGER.fullmatch(score_text) else -1
    mark = int(mark_text) if _INTEGER.fullmatch(mark_text) else -1
    if not 0 <= score <= MAX_SCORE:
        problems.append(N_("the score must be a whole number from 0 to 100"))
    if not 0 <= mark <= MAX_SCORE:
        problems.append(N_("the pass mark must be a whole number from 0 to 100"))
    moment = parse_moment(record["published_at"], tz)
    if moment is None:
        problems.append(
            N_("the publication time must be a date and time, such as 2026-07-01T10:00")
        )
    if problems or code is None or number is None or moment is None:
        return problems, None
    return [], ResultRow(0, code, number, subject, score, mark, moment)


def parse_results(text: str, tz: ZoneInfo) -> tuple[list[ResultRow], list[RowProblem]]:
    """The rows of a results file (CSV with a header naming ``RESULT_COLUMNS``, comma or
    semicolon separated) and every refused line; a participant's subject twice in one
    file is refused (which would be the correction?)."""
    sample = text[:2048]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter)
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error:
        return [], [RowProblem(1, N_("the header cannot be read"))]
    missing = [c for c in RESULT_COLUMNS if c not in header]
    if missing:
        return [], [
            RowProblem(1, N_("missing columns: %(columns)s"), (("columns", ", ".join(missing)),))
        ]
    rows: list[ResultRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}
    while True:
        try:
            record = next(reader, None)
        except csv.Error:
            problems.append(RowProblem(reader.line_num, N_("the line cannot be read as CSV")))
            break
        if record is None:
            break
        line = reader.line_num
        if not record or all(not field.strip() for field in record):
            continue
        if len(record) != len(header):
            problems.append(
                RowProblem(line, N_("%(found)s fields, expected %(expected)s"),
                           (("found", len(record)), ("expected", len(header))))
            )  # fmt: skip
            continue
        found, row = _row_problems(dict(zip(header, record, strict=True)), tz)
        problems += [RowProblem(line, message) for message in found]
        if row is None:
            continue
        key = (row.registration_code, row.subject)
        if key in seen:
            problems.append(
                RowProblem(line, N_("the same participant and subject as line %(line)s"),
                           (("line", seen[key]),))
            )  # fmt: skip
            continue
        seen[key] = line
        rows.append(ResultRow(line, *_fields(row)))
    return rows, problems


def _fields(row: ResultRow) -> tuple[str, str, str, int, int, datetime]:
    return (row.registration_code, row.document_number, row.subject, row.score,
            row.pass_mark, row.published_at)  # fmt: skip
