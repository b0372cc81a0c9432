"""The refusals of cards: one class per code, so tests and callers can name them.
Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from infocity.core.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from infocity.core.i18n import N_

# --- Cards and pupils --------------------------------------------------------------


class NotASchool(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_not_a_school", N_("School cards are issued by schools only."), field="school_id"
        )


class PupilNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("cards_pupil_not_found", N_("There is no such pupil."), field="pupil")


class InvalidCardUid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_invalid_uid",
            N_("A card number (UID) is 8, 14 or 20 hexadecimal characters."),
            field="uid",
        )


class CardUidTaken(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_uid_taken", N_("A card with this number is already issued."), field="uid"
        )


class PupilHasCard(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_pupil_has_card",
            N_("The pupil already has a working card: block it before issuing a new one."),
        )


class PupilAtAnotherSchool(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_pupil_at_another_school",
            N_("The pupil's card belongs to another school."),
        )


class CardNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("cards_card_not_found", N_("There is no such card."), field="card")


class CardMoveRefused(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_card_state", N_("The card's state does not allow this any more."))


# --- Representatives ---------------------------------------------------------------


class NotYourPupil(NotFound):
    """Also for a pupil not in the service: the answer does not tell which."""

    def __init__(self) -> None:
        super().__init__(
            "cards_not_your_pupil",
            N_("This child is not among the children you are told about."),
            field="pupil",
        )


class NotYourChild(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "cards_not_your_child",
            N_("Only a parent or guardian of the child may activate the service."),
            field="child_id",
        )


class NoCardYet(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_no_card_yet",
            N_("The school has not issued this child a card yet."),
            field="child_id",
        )


class RightRefused(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "cards_right_refused",
            N_("Only the child's legal representative may do this."),
        )


class AdultNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "cards_adult_not_found",
            N_("No one is registered with this e-mail or phone: ask them to register first."),
            field="contact",
        )


class AlreadyTold(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_already_representative",
            N_("This person is already told about the child."),
            field="contact",
        )


class TooManyAdults(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "cards_too_many_adults",
            N_("A child may have at most %(limit)s trusted adults."),
            limit=limit,
        )


class RepresentativeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("cards_representative_not_found", N_("There is no such adult."))


class UnknownChannel(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_unknown_channel",
            N_("Choose among the inbox, e-mail and SMS."),
            field="channels",
        )


# --- Devices and the ledger ------------------------------------------------------


class NotACardDevice(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "cards_not_a_card_device", N_("Only school turnstiles and tills send card events.")
        )


class UnknownCard(NotFound):
    def __init__(self) -> None:
        super().__init__("cards_unknown_card", N_("No card has this number."), field="uid")


class CardBlocked(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_card_blocked", N_("The card is blocked."), field="uid")


class CardOfAnotherSchool(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "cards_card_of_another_school",
            N_("The card belongs to a pupil of another school."),
            field="uid",
        )


class WrongDeviceKind(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_wrong_device_kind",
            N_("Turnstiles report entries and exits; tills report purchases."),
            field="kind",
        )


class InvalidRow(InvalidInput):
    def __init__(self, why: str) -> None:
        super().__init__("cards_invalid_row", N_("The row is not a card event: %(why)s"), why=why)


class EventInFuture(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_event_in_future", N_("The event's time is in the future."), field="at"
        )


class BatchTooLarge(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "cards_batch_too_large", N_("A batch has at most %(limit)s events."), limit=limit
        )


class InvalidAmount(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_invalid_amount",
            N_("The amount must be a positive number of kopecks, at most 10,000,000."),
            field="amount",
        )


class UnknownCategory(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_unknown_category", N_("There is no such food category."), field="category"
        )


class NotEnoughMoney(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_not_enough_money", N_("Not enough money on the card."))


class DailyLimitReached(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_daily_limit", N_("The daily spending limit is reached."))


class BannedItem(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_banned_item", N_("A banned category of food."))


class HoldNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "cards_hold_not_found",
            N_("There is no approval for this purchase, or it has expired."),
            field="authorization_id",
        )


class HoldExceeded(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_hold_exceeded",
            N_("The purchase is larger than the approved amount."),
            field="amount",
        )


class PurchaseNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "cards_purchase_not_found", N_("There is no such purchase."), field="event_id"
        )


class AlreadyRefunded(Conflict):
    def __init__(self) -> None:
        super().__init__("cards_already_refunded", N_("This purchase is already refunded."))


class PaymentAlreadyCounted(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_payment_counted",
            N_("This payment is already on the card."),
            field="reference",
        )


class PaymentFileRefused(InvalidFields):
    """The file is refused as a whole; ``rows`` says what is wrong on which line."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__(
            [InvalidInput("cards_payment_row", why, field=f"line {line}") for line, why in rows]
        )
        self.code = "cards_payment_file_refused"
        self.message = N_("The payment file was not imported: %(count)s rows have mistakes.")
        self.field = "file"
        self.params = {"count": len(rows)}
        self.rows = rows


# --- School meals: menus, subsidies, pre-orders ------------------------------------


class MenuItemNotFound(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_menu_item_not_found",
            N_("A dish ordered is not on the school's menu of that day."),
            field="items",
        )


class MenuPriceRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "cards_menu_price", N_("Every dish of the menu has a price."), field="items"
        )


class OrderClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_order_closed",
            N_("Meals of this day are no longer ordered or cancelled: until 10:00 the day before."),
            field="day",
        )


class OrderTooFar(InvalidInput):
    def __init__(self, days: int) -> None:
        super().__init__(
            "cards_order_too_far",
            N_("Meals are ordered at most %(days)s days ahead."),
            field="day",
            days=days,
        )


class OrderNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "cards_order_not_found",
            N_("There is no such meal order for this card today."),
            field="order_id",
        )


class OrderStateConflict(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_order_state",
            N_("The meal order has already been served or cancelled."),
            field="order_id",
        )


class SubsidyPeriodInvalid(InvalidInput):
    def __init__(self, days: int) -> None:
        super().__init__(
            "cards_subsidy_period",
            N_("A subsidy ends on or after its first day, and lasts at most %(days)s days."),
            field="ends",
            days=days,
        )


class SubsidyOverlaps(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_subsidy_overlaps",
            N_("The pupil already has a subsidy for some of these days."),
            field="starts",
        )


class SubsidyNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "cards_subsidy_not_found", N_("This school has no such subsidy."), field="subsidy"
        )


class SubsidyEnded(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "cards_subsidy_ended",
            N_("This subsidy has ended or been revoked already."),
            field="subsidy",
        )


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
