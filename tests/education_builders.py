"""Exam results made for tests through the real service functions."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from infocity.core.auth import SYSTEM
from infocity.core.db import utcnow
from infocity.education import service
from infocity.education.schemas.exams import ExamImportRead

HEADER = "registration_code,document_number,subject,score,pass_mark,published_at"
_codes = itertools.count(1)


@dataclass(frozen=True)
class Participant:
    registration_code: str
    document_number: str


def make_participant() -> Participant:
    """A registration code and a document number no other test uses (not imported yet)."""
    n = next(_codes)
    return Participant(f"{770000000000 + n:012d}", f"{400000 + n:06d}")


def publication_instant(hours_ahead: int = 1) -> datetime:
    """A publication instant on the whole second ``hours_ahead`` hours from now (UTC)."""
    return (utcnow() + timedelta(hours=hours_ahead)).replace(microsecond=0, tzinfo=UTC)


def results_csv(rows: Iterable[tuple[Participant, str, int, int, datetime]]) -> str:
    """A results file: (participant, subject, score, pass mark, publication instant)."""
    lines = [HEADER]
    for who, subject, score, mark, at in rows:
        lines.append(
            f"{who.registration_code},{who.document_number},{subject},{score},{mark},"
            f"{at.isoformat()}"
        )
    return "\n".join(lines) + "\n"


def import_results(
    rows: Iterable[tuple[Participant, str, int, int, datetime]],
) -> ExamImportRead:
    """Import the rows as the command line would (``SYSTEM``)."""
    return service.import_exam_results(SYSTEM, results_csv(rows))
