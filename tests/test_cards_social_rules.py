"""The social card's pure rules: what a UID looks like, how long a card serves, what a
validator is told, and the one table of steps."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infocity.cards import errors
from infocity.cards.rules.social import (
    TRANSITIONS,
    Eligibility,
    Mover,
    SocialCardStatus,
    eligibility,
    next_steps,
    parse_uid,
    steps_to,
    valid_until,
)

S = SocialCardStatus


@given(st.sampled_from([4, 7, 10]).flatmap(lambda n: st.binary(min_size=n, max_size=n)))
def test_a_uid_reads_the_same_however_the_reader_writes_it(raw: bytes) -> None:
    plain = raw.hex().upper()
    assert parse_uid(plain) == plain
    assert parse_uid(raw.hex()) == plain
    assert parse_uid(":".join(f"{b:02x}" for b in raw)) == plain
    assert parse_uid(" ".join(f"{b:02X}" for b in raw)) == plain


@pytest.mark.parametrize("text", ["", "04A1B2", "04A1B2C3D4", "04A1B2C3G4E5F6", "0x04A1B2C3"])
def test_what_is_not_a_uid_is_refused(text: str) -> None:
    with pytest.raises(errors.InvalidCardUid):
        parse_uid(text)


def test_a_card_serves_until_the_end_of_the_graduation_year() -> None:
    today = date(2026, 11, 30)
    assert valid_until(date(2026, 8, 31), 2026) == date(2026, 8, 31)
    assert valid_until(today, 2028) == date(2028, 8, 31)
    with pytest.raises(errors.GraduationYearPassed):
        valid_until(date(2026, 9, 1), 2026)
    with pytest.raises(errors.GraduationYearTooFar):
        valid_until(today, 2033)


def test_only_an_active_card_within_its_validity_is_eligible() -> None:
    today, until = date(2026, 11, 30), date(2027, 8, 31)
    assert eligibility(S.ACTIVE, until, today).eligible
    assert eligibility(S.ACTIVE, today, today).eligible  # its last day still counts
    told = {
        status: eligibility(status, until, today).reason
        for status in (S.ORDERED, S.ISSUED, S.BLOCKED, S.REISSUED)
    }
    assert told == {
        S.ORDERED: Eligibility.NOT_ACTIVE,
        S.ISSUED: Eligibility.NOT_ACTIVE,
        S.BLOCKED: Eligibility.BLOCKED,
        S.REISSUED: Eligibility.BLOCKED,
    }
    assert eligibility(S.ACTIVE, date(2026, 11, 29), today).reason == Eligibility.EXPIRED
    assert eligibility(None, None, today).reason == Eligibility.UNKNOWN


def test_the_steps_come_from_the_one_table() -> None:
    assert steps_to(S.BLOCKED, Mover.STUDENT) == (S.ISSUED, S.ACTIVE)
    assert steps_to(S.ISSUED, Mover.STUDENT) == ()
    assert next_steps(S.BLOCKED, Mover.STUDENT) == [S.REISSUED]
    assert next_steps(S.REISSUED, Mover.COLLEGE) == []
    # Nothing leads back to ordered: a replacement is a new card.
    assert all(target != S.ORDERED for _, target in TRANSITIONS)
