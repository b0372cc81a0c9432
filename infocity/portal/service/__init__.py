"""Use cases of the portal: one function per thing a user does, one transaction each.

One module per sub-domain; a module imports only the ones below it:

- ``cabinet``: the citizen's single window, built from the cards services register;
- ``filing`` (the applicant's side, and what both sides do on an application) and
  ``back_office`` (the organisation's queue, assigning, deciding);
- ``engine``: who may see an application, how it is read, its one guarded way to change
  status;
- ``inbox`` and ``catalogue``: the notifications a user reads, the catalogue of services
  and the count of their users;
- ``documents``: the documents a citizen keeps in the cabinet for applications to point at.

Callers import the package (``from infocity.portal import service``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.core.usage import record_service_use
from infocity.portal.registry import (
    ApplicationType,
    Approval,
    Routing,
    register_application_type,
)
from infocity.portal.service.back_office import (
    DECISIONS,
    applicant_name,
    assign_application,
    complete_application,
    decide_application,
    list_colleagues,
    list_queue,
)
from infocity.portal.service.cabinet import my_overview
from infocity.portal.service.catalogue import (
    search_catalogue,
    seed_catalogue,
    unique_users_per_month,
)
from infocity.portal.service.documents import (
    add_cabinet_document,
    get_my_document_file,
    list_my_documents,
    my_document_for,
)
from infocity.portal.service.filing import (
    add_attachment,
    add_comment,
    answer_information_request,
    create_application,
    describe_application_form,
    get_application,
    get_attachment,
    list_application_types,
    list_my_applications,
    submit_application,
    update_application,
    withdraw_application,
)
from infocity.portal.service.inbox import (
    get_message,
    list_inbox,
    mark_all_read,
    read_message,
    unread_count,
)

__all__ = [
    "DECISIONS",
    "ApplicationType",
    "Approval",
    "Routing",
    "add_attachment",
    "add_cabinet_document",
    "add_comment",
    "answer_information_request",
    "applicant_name",
    "assign_application",
    "complete_application",
    "create_application",
    "decide_application",
    "describe_application_form",
    "get_application",
    "get_attachment",
    "get_message",
    "get_my_document_file",
    "list_application_types",
    "list_colleagues",
    "list_inbox",
    "list_my_applications",
    "list_my_documents",
    "list_queue",
    "mark_all_read",
    "my_document_for",
    "my_overview",
    "read_message",
    "record_service_use",
    "register_application_type",
    "search_catalogue",
    "seed_catalogue",
    "submit_application",
    "unique_users_per_month",
    "unread_count",
    "update_application",
    "withdraw_application",
]
