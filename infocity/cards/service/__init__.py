"""Use cases of cards: one function per thing a user (or a device) does, one transaction
each.

One module per sub-domain; a module imports only the ones below it:

- ``events`` (device batches) above ``tills`` (authorization and holds), above
  ``meals`` (menus, subsidised meals, pre-orders), above ``ledger`` (top-ups, refunds,
  rules of spending), above ``money`` (the guarded statements); ``notices`` (the
  worker's fan-out) and ``digests`` (the daily digest) beside them;
- ``cards`` (issue, block, re-issue) and ``representatives`` (activation, trusted
  adults, settings) on the shared ``base``; ``school`` (what school staff read of
  their pupils) above ``cards``;
- ``social``: students' social cards: ordered on the college's confirmation, issued,
  activated, blocked and re-issued; the validators' eligibility check and stop-list.

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
from infocity.cards.service.digests import send_daily_digests
from infocity.cards.service.events import list_card_events, record_device_events
from infocity.cards.service.ledger import (
    import_payments,
    list_ledger,
    refund_purchase,
    set_auto_top_up,
    set_spending_rules,
    top_up_card,
)
from infocity.cards.service.meals import (
    cancel_meal_order,
    grant_subsidy,
    order_meal,
    publish_menu,
    pupil_meals,
    pupil_menu,
    revoke_subsidy,
    school_menu,
    school_pupil_subsidies,
    till_meal_orders,
)
from infocity.cards.service.notices import fan_out_card_events, fan_out_subsidy_changes
from infocity.cards.service.representatives import (
    activate_card_service,
    add_trusted_adult,
    get_my_pupil,
    list_my_pupils,
    list_representatives,
    remove_trusted_adult,
    set_notification_settings,
)
from infocity.cards.service.school import (
    find_children_for_card,
    get_school_pupil,
    list_school_pupils,
)
from infocity.cards.service.social import (
    activate_social_card,
    block_social_card,
    check_social_card_application,
    check_social_card_eligibility,
    export_social_stop_list,
    get_social_stop_list,
    issue_social_card,
    list_college_social_cards,
    list_colleges,
    list_my_social_cards,
    order_social_card,
    reissue_social_card,
    report_social_card_lost,
    social_stop_list_key,
)
from infocity.cards.service.tills import authorize_purchase, expire_holds

__all__ = [
    "activate_card_service",
    "activate_social_card",
    "add_trusted_adult",
    "authorize_purchase",
    "block_card",
    "block_social_card",
    "cancel_meal_order",
    "card_history",
    "check_social_card_application",
    "check_social_card_eligibility",
    "expire_holds",
    "export_social_stop_list",
    "fan_out_card_events",
    "fan_out_subsidy_changes",
    "find_children_for_card",
    "get_my_pupil",
    "get_school_pupil",
    "get_social_stop_list",
    "grant_subsidy",
    "import_payments",
    "issue_card",
    "issue_social_card",
    "list_card_events",
    "list_college_social_cards",
    "list_colleges",
    "list_ledger",
    "list_my_pupils",
    "list_my_social_cards",
    "list_representatives",
    "list_school_pupils",
    "order_meal",
    "order_social_card",
    "publish_menu",
    "pupil_meals",
    "pupil_menu",
    "record_device_events",
    "refund_purchase",
    "reissue_card",
    "reissue_social_card",
    "remove_trusted_adult",
    "report_social_card_lost",
    "revoke_subsidy",
    "school_menu",
    "school_pupil_subsidies",
    "send_daily_digests",
    "set_auto_top_up",
    "set_notification_settings",
    "set_spending_rules",
    "social_stop_list_key",
    "till_meal_orders",
    "top_up_card",
    "unblock_card",
]
