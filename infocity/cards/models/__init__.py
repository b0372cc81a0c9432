"""Tables of cards, one module per sub-domain (imported here for migrations)."""

from infocity.cards.models import cards, events, ledger, meals, social

__all__ = ["cards", "events", "ledger", "meals", "social"]
