"""The refusals of cards: one class per code, so tests and callers can name them.
Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from infocity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from infocity.core.i18n import N_

# --- Students' social cards ----------------------------------------------------------


class SocialCardNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("social_card_not_found", N_("There is no such social card."))


class SocialCardStatusConflict(Conflict):
    """The card has moved on (someone acted on it first) or the step does not follow."""

    def __init__(self) -> None:
        super().__init__(
            "social_card_status_conflict",
            N_("This cannot be done with the card in its present state; reload the page."),
        )


class SocialCardAlreadyHeld(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "social_card_already_held",
            N_("You already have a social card or one is being made for you."),
        )


class NotACollege(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_a_college",
            N_("Choose your college or university from the list."),
            field="organisation_id",
        )


class NoPersonOnAccount(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "no_person_on_account",
            N_("Fill in your name and date of birth in your profile first."),
        )


class GraduationYearPassed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "graduation_year_passed",
            N_("This academic year is over: give the year your studies end."),
            field="graduation_year",
        )


class GraduationYearTooFar(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "graduation_year_too_far",
            N_("No course runs that long: give the year your studies end."),
            field="graduation_year",
        )


class InvalidCardUid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_card_uid",
            N_("A card UID is 8, 14 or 20 hexadecimal digits, as the card reader shows it."),
            field="uid",
        )


class CardUidTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "card_uid_taken",
            N_("A card with this UID has already been issued: take another card."),
            field="uid",
        )


class InvalidBlockReason(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_block_reason", N_("Choose why the card is blocked."), field="reason"
        )


class NotAValidator(Forbidden):
    def __init__(self) -> None:
        super().__init__("not_a_validator", N_("Only transit validators may ask this."))


class StopListNotReady(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "stop_list_not_ready",
            N_("The stop-list has not been exported yet; try again later."),
        )
