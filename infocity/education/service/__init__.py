"""Use cases of education: one function per thing a user does, one transaction each.

One module per sub-domain; callers import the package (``from infocity.education import
service``) and use the names re-exported here.

- ``exams``: importing exam results, looking them up, subscribing;
- ``exam_notices``: announcing publications and telling subscribers (the worker's job).
"""

from __future__ import annotations

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

__all__ = [
    "announce_exam_publications",
    "import_exam_results",
    "list_exam_subscriptions",
    "look_up_exam_results",
    "notify_exam_subscribers",
    "subscribe_to_exam_results",
]
