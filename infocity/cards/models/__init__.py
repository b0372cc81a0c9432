"""Tables of school cards, one module per sub-domain (imported here for migrations)."""

from infocity.cards.models import cards, events, ledger

__all__ = ["cards", "events", "ledger"]
