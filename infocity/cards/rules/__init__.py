"""Pure rules of cards, one module per sub-domain: no database, no web."""

from infocity.cards.rules import social
from infocity.core.i18n import N_

# What cards record in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "cards.card.issue": N_("Issued a pupil's school card"),
    "cards.card.block": N_("Blocked a pupil's school card"),
    "cards.card.unblock": N_("Unblocked a pupil's school card"),
    "cards.card.reissue": N_("Re-issued a pupil's school card"),
    "cards.pupil.history": N_("Opened a pupil's card history"),
    "cards.school.pupils": N_("Opened the list of the school's pupils with cards"),
    "cards.school.pupil": N_("Opened a pupil's cards and events"),
    "cards.school.register_search": N_("Looked up children in the register to issue a card"),
    "cards.purchase.refund": N_("Refunded a pupil's canteen purchase"),
    "cards.menu.publish": N_("Published a school's menu of a day"),
    "cards.subsidy.grant": N_("Granted a pupil subsidised meals"),
    "cards.subsidy.revoke": N_("Revoked a pupil's subsidised meals"),
    **social.AUDIT_ACTIONS,
}
