"""Pure rules of students' social cards: the card's states and who moves it between them,
how long a card is valid, what a card UID looks like, and what a validator is told.

A card is ordered when the college confirms the student (the portal application is
approved), issued when the college hands over a card with its UID, active once the student
confirms they hold it, blocked when lost or stolen, and re-issued when a replacement is
ordered: the replacement is a new card with a new UID; the old UID stays on the stop-list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from infocity.cards import errors
from infocity.core.i18n import N_


class SocialCardStatus(StrEnum):
    """Where a social card is (the stored value)."""

    ORDERED = "ordered"
    ISSUED = "issued"
    ACTIVE = "active"
    BLOCKED = "blocked"
    REISSUED = "reissued"


class Mover(StrEnum):
    """Who takes a step: the student holding the card, or their college's student office."""

    STUDENT = "student"
    COLLEGE = "college"


STATUS_LABELS = {
    SocialCardStatus.ORDERED: N_("Ordered"),
    SocialCardStatus.ISSUED: N_("Ready to collect"),
    SocialCardStatus.ACTIVE: N_("Active"),
    SocialCardStatus.BLOCKED: N_("Blocked"),
    SocialCardStatus.REISSUED: N_("Replaced by a new card"),
}

# (from, to) -> who may take the step. The only table of the lifecycle: guarded updates
# take their expected states from it (``steps_to``), pages their buttons (``next_steps``).
# A card lost before it was activated is blocked too: its UID is known from issue on.
TRANSITIONS: dict[tuple[SocialCardStatus, SocialCardStatus], frozenset[Mover]] = {
    (SocialCardStatus.ORDERED, SocialCardStatus.ISSUED): frozenset({Mover.COLLEGE}),
    (SocialCardStatus.ISSUED, SocialCardStatus.ACTIVE): frozenset({Mover.STUDENT}),
    (SocialCardStatus.ISSUED, SocialCardStatus.BLOCKED): frozenset({Mover.STUDENT, Mover.COLLEGE}),
    (SocialCardStatus.ACTIVE, SocialCardStatus.BLOCKED): frozenset({Mover.STUDENT, Mover.COLLEGE}),
    (SocialCardStatus.BLOCKED, SocialCardStatus.REISSUED): frozenset({Mover.STUDENT}),
}

# A student holds at most one card in these states (a partial unique index).
LIVE_STATUSES = (SocialCardStatus.ORDERED, SocialCardStatus.ISSUED, SocialCardStatus.ACTIVE)
# UIDs that validators refuse offline: every card blocked, replaced or not.
STOPPED_STATUSES = (SocialCardStatus.BLOCKED, SocialCardStatus.REISSUED)


def steps_to(status: SocialCardStatus, mover: Mover) -> tuple[SocialCardStatus, ...]:
    """The statuses from which ``mover`` may move a card to ``status`` (the step's guard)."""
    return tuple(
        source
        for (source, target), movers in TRANSITIONS.items()
        if target == status and mover in movers
    )


def next_steps(status: str, mover: Mover) -> list[SocialCardStatus]:
    """The statuses ``mover`` may move a card in ``status`` to."""
    return [
        target
        for (source, target), movers in TRANSITIONS.items()
        if source == status and mover in movers
    ]


class BlockReason(StrEnum):
    LOST = "lost"
    STOLEN = "stolen"
    DAMAGED = "damaged"
    STUDIES_ENDED = "studies_ended"


BLOCK_REASON_LABELS = {
    BlockReason.LOST: N_("Lost"),
    BlockReason.STOLEN: N_("Stolen"),
    BlockReason.DAMAGED: N_("Damaged"),
    BlockReason.STUDIES_ENDED: N_("Studies ended"),
}
# What a student may report; the college may also block a card when studies end.
STUDENT_BLOCK_REASONS = (BlockReason.LOST, BlockReason.STOLEN, BlockReason.DAMAGED)


# --- Validity --------------------------------------------------------------------------

# A card serves until the end of the academic year the studies end in.
ACADEMIC_YEAR_END = (8, 31)  # 31 August
MAX_STUDY_YEARS = 6


def valid_until(today: date, graduation_year: int) -> date:
    """The last day a card of a student graduating in ``graduation_year`` is valid; refused
    for a year already over or further ahead than any course runs."""
    month, day = ACADEMIC_YEAR_END
    if date(graduation_year, month, day) < today:
        raise errors.GraduationYearPassed()
    if graduation_year > today.year + MAX_STUDY_YEARS:
        raise errors.GraduationYearTooFar()
    return date(graduation_year, month, day)


# --- UIDs and eligibility ------------------------------------------------------------

# ISO/IEC 14443 UIDs: 4, 7 or 10 bytes, written as hexadecimal.
_UID = re.compile(r"(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})")


def parse_uid(value: str) -> str:
    """A card UID as stored: upper-case hexadecimal without separators; refused otherwise."""
    uid = re.sub(r"[\s:-]", "", value).upper()
    if not _UID.fullmatch(uid):
        raise errors.InvalidCardUid()
    return uid


class Eligibility(StrEnum):
    """What a validator is told about a UID."""

    ELIGIBLE = "eligible"
    NOT_ACTIVE = "not_active"  # ordered or issued, not yet confirmed by the student
    BLOCKED = "blocked"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class EligibilityAnswer:
    eligible: bool
    reason: Eligibility
    valid_until: date | None


def eligibility(status: str | None, until: date | None, today: date) -> EligibilityAnswer:
    """Whether a card in ``status`` valid until ``until`` gives a reduced fare ``today``
    (city date); ``status`` None: no card has this UID."""
    if status is None:
        return EligibilityAnswer(False, Eligibility.UNKNOWN, None)
    if status in STOPPED_STATUSES:
        return EligibilityAnswer(False, Eligibility.BLOCKED, until)
    if status != SocialCardStatus.ACTIVE:
        return EligibilityAnswer(False, Eligibility.NOT_ACTIVE, until)
    if until is None or until < today:
        return EligibilityAnswer(False, Eligibility.EXPIRED, until)
    return EligibilityAnswer(True, Eligibility.ELIGIBLE, until)


# --- The stop-list -------------------------------------------------------------------

STOP_LIST_FORMAT = "infocity.social-card-stop-list/1"


AUDIT_ACTIONS = {
    "cards.social.issue": N_("Issued a student's social card"),
    "cards.social.block": N_("Blocked a student's social card"),
}
