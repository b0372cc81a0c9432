"""A school card's life and who may do what for a pupil: the states, the one transitions
table, the rights of legal representatives and of the trusted adults they add."""

from __future__ import annotations

from enum import StrEnum

from infocity.core.i18n import N_


class CardStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # reported lost or stolen: refused at turnstiles and tills
    REPLACED = "replaced"  # a new card was issued; this one never works again


class CardMove(StrEnum):
    BLOCK = "block"
    UNBLOCK = "unblock"  # the lost card was found
    REPLACE = "replace"  # re-issue: the old card gives way to a new one


# Which state may follow which. Any move absent here is refused.
TRANSITIONS: dict[tuple[CardStatus, CardMove], CardStatus] = {
    (CardStatus.ACTIVE, CardMove.BLOCK): CardStatus.BLOCKED,
    (CardStatus.BLOCKED, CardMove.UNBLOCK): CardStatus.ACTIVE,
    (CardStatus.ACTIVE, CardMove.REPLACE): CardStatus.REPLACED,
    (CardStatus.BLOCKED, CardMove.REPLACE): CardStatus.REPLACED,
}

STATUS_LABELS = {
    CardStatus.ACTIVE: N_("Active"),
    CardStatus.BLOCKED: N_("Blocked"),
    CardStatus.REPLACED: N_("Replaced"),
}

# The lines of a pupil's history, as its ``action`` names them.
HISTORY_LABELS = {
    "issued": N_("A card was issued"),
    "blocked": N_("The card was blocked"),
    "unblocked": N_("The card was unblocked"),
    "reissued": N_("A new card replaced the old one"),
    "activated": N_("A representative turned the service on"),
    "adult_added": N_("A trusted adult was added"),
    "adult_removed": N_("A trusted adult was removed"),
    "rules": N_("The limit or banned food changed"),
    "auto_top_up": N_("The automatic top-up changed"),
    "refund": N_("A purchase was refunded"),
    "subsidy": N_("Subsidised meals were granted"),
    "subsidy_revoke": N_("Subsidised meals were revoked"),
    "meal_order": N_("A meal was ordered ahead"),
    "meal_cancel": N_("A meal order was cancelled"),
}


def states_before(move: CardMove) -> list[str]:
    """The states a card may be in for ``move`` (the guard of its UPDATE)."""
    return [state.value for (state, step) in TRANSITIONS if step == move]


def next_state(move: CardMove) -> CardStatus:
    """Where ``move`` leads (one target per move)."""
    targets = {target for (_state, step), target in TRANSITIONS.items() if step == move}
    (target,) = targets
    return target


class Standing(StrEnum):
    """How an adult stands to a pupil in the service."""

    LEGAL = "legal"  # a parent or guardian of the family in accounts
    TRUSTED = "trusted"  # added by a legal representative: a grandparent, a nanny


class Right(StrEnum):
    SEE = "see"  # entries, exits, meals, the ledger; be told of them
    TOP_UP = "top_up"
    SET_RULES = "set_rules"  # the daily limit, banned categories
    ADD_ADULTS = "add_adults"
    BLOCK_CARD = "block_card"


# A trusted adult sees and pays; only a legal representative changes what the pupil may
# buy, who else is told, or blocks the card.
RIGHTS: dict[Standing, frozenset[Right]] = {
    Standing.LEGAL: frozenset(Right),
    Standing.TRUSTED: frozenset({Right.SEE, Right.TOP_UP}),
}

STANDING_LABELS = {
    Standing.LEGAL: N_("Legal representative"),
    Standing.TRUSTED: N_("Trusted adult"),
}

# Adults one representative may add for a pupil (a family, not a class).
MAX_TRUSTED_ADULTS = 10

# A card's UID as the reader gives it: hexadecimal, 4 to 10 bytes (ISO 14443).
UID_LENGTHS = (8, 14, 20)


def normalize_uid(value: str) -> str | None:
    """The UID in upper-case hexadecimal without separators, or None when it is not one."""
    cleaned = value.replace(":", "").replace(" ", "").replace("-", "").upper()
    if len(cleaned) not in UID_LENGTHS or any(c not in "0123456789ABCDEF" for c in cleaned):
        return None
    return cleaned
