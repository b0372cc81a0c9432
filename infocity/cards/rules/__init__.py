"""Pure rules of cards, one module per sub-domain: no database, no web."""

from infocity.cards.rules import social

# What cards record in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {**social.AUDIT_ACTIONS}
