"""Use cases of school cards: one function per thing a user (or a device) does, one
transaction each.

One module per sub-domain; a module imports only the ones below it:

- ``events`` (device batches) above ``tills`` (authorization and holds), above
  ``ledger`` (top-ups, refunds, rules of spending), above ``money`` (the guarded
  statements); ``notices`` (the worker's fan-out) beside them;
- ``cards`` (issue, block, re-issue) and ``representatives`` (activation, trusted
  adults, settings) on the shared ``base``.

Callers import the package (``from infocity.cards import service``).
"""

from __future__ import annotations

from infocity.cards.service.cards import (
    block_card,
    card_history,
    issue_card,
    reissue_card,
    unblock_card,
)
from infocity.cards.service.events import list_card_events, record_device_events
from infocity.cards.service.ledger import (
    import_payments,
    list_ledger,
    refund_purchase,
    set_spending_rules,
    top_up_card,
)
from infocity.cards.service.notices import fan_out_card_events
from infocity.cards.service.representatives import (
    activate_card_service,
    add_trusted_adult,
    get_my_pupil,
    list_my_pupils,
    list_representatives,
    remove_trusted_adult,
    set_notification_settings,
)
from infocity.cards.service.tills import authorize_purchase, expire_holds

__all__ = [
    "activate_card_service",
    "add_trusted_adult",
    "authorize_purchase",
    "block_card",
    "card_history",
    "expire_holds",
    "fan_out_card_events",
    "get_my_pupil",
    "import_payments",
    "issue_card",
    "list_card_events",
    "list_ledger",
    "list_my_pupils",
    "list_representatives",
    "record_device_events",
    "refund_purchase",
    "reissue_card",
    "remove_trusted_adult",
    "set_notification_settings",
    "set_spending_rules",
    "top_up_card",
    "unblock_card",
]
