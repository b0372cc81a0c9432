"""Use cases of cards: one function per thing a user does, one transaction each.

One module per sub-domain:

- ``social``: students' social cards: ordered on the college's confirmation, issued,
  activated, blocked and re-issued; the validators' eligibility check and stop-list.

Callers import the package (``from infocity.cards import service``) and use the names
re-exported here.
"""

from __future__ import annotations

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

__all__ = [
    "activate_social_card",
    "block_social_card",
    "check_social_card_application",
    "check_social_card_eligibility",
    "export_social_stop_list",
    "get_social_stop_list",
    "issue_social_card",
    "list_college_social_cards",
    "list_colleges",
    "list_my_social_cards",
    "order_social_card",
    "reissue_social_card",
    "report_social_card_lost",
    "social_stop_list_key",
]
