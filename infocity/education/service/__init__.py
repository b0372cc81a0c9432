"""Use cases of education: one function per thing a user does, one transaction each.

One module per sub-domain; a module imports only the ones below it:

- ``allocation``: the city's allocation of kindergarten places, the parents told of their
  offers (the worker's job) and the lapse of offers;
- ``kindergarten``: the parent's queue: apply, follow the position, answer an offer;
- ``first_grade_decisions``: the allocation of a first-grade phase with its decisions, and
  the school's list where it confirms documents;
- ``first_grade``: first-grade enrolment: the campaign and the parents' applications;
- ``directory``: schools, kindergartens and their places, school territories;
- ``exams``: importing exam results, looking them up, subscribing;
- ``exam_notices``: announcing publications and telling subscribers (the worker's job).

Callers import the package (``from infocity.education import service``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.education.service.allocation import (
    lapse_overdue_offers,
    list_waiting_at_three,
    notify_kindergarten_offers,
    preview_allocation,
    run_allocation,
)
from infocity.education.service.directory import (
    create_kindergarten,
    create_school,
    get_school,
    import_territory,
    list_directory,
    list_kindergartens,
    register_education_organisation,
    school_for_address,
    set_group_places,
)
from infocity.education.service.exam_notices import (
    announce_exam_publications,
    notify_exam_subscribers,
)
from infocity.education.service.exams import (
    import_exam_results,
    list_exam_subscriptions,
    look_up_exam_results,
    subscribe_to_exam_results,
)
from infocity.education.service.first_grade import (
    apply_for_first_grade,
    campaign_year,
    children_for_first_grade,
    get_first_grade_campaign,
    list_my_first_grade_applications,
    set_first_grade_campaign,
    set_first_grade_places,
    withdraw_first_grade_application,
)
from infocity.education.service.first_grade_decisions import (
    confirm_first_grade_documents,
    list_school_first_graders,
    preview_first_grade_allocation,
    refuse_first_grade_documents,
    run_first_grade_allocation,
)
from infocity.education.service.kindergarten import (
    answer_offer,
    apply_for_kindergarten,
    children_for_kindergarten,
    list_my_kindergarten_applications,
    withdraw_kindergarten_application,
)

__all__ = [
    "announce_exam_publications",
    "answer_offer",
    "apply_for_first_grade",
    "apply_for_kindergarten",
    "campaign_year",
    "children_for_first_grade",
    "children_for_kindergarten",
    "confirm_first_grade_documents",
    "create_kindergarten",
    "create_school",
    "get_first_grade_campaign",
    "get_school",
    "import_exam_results",
    "import_territory",
    "lapse_overdue_offers",
    "list_directory",
    "list_exam_subscriptions",
    "list_kindergartens",
    "list_my_first_grade_applications",
    "list_my_kindergarten_applications",
    "list_school_first_graders",
    "list_waiting_at_three",
    "look_up_exam_results",
    "notify_exam_subscribers",
    "notify_kindergarten_offers",
    "preview_allocation",
    "preview_first_grade_allocation",
    "refuse_first_grade_documents",
    "register_education_organisation",
    "run_allocation",
    "run_first_grade_allocation",
    "school_for_address",
    "set_first_grade_campaign",
    "set_first_grade_places",
    "set_group_places",
    "subscribe_to_exam_results",
    "withdraw_first_grade_application",
    "withdraw_kindergarten_application",
]
