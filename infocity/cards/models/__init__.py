"""Tables of cards, one module per sub-domain (imported here for migrations)."""

from infocity.cards.models import social

__all__ = ["social"]
