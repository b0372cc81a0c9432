"""Use cases of housing and utilities: one function per thing a user does, one
transaction each.

One module per sub-domain; each imports only ``base``, never another sub-domain:

- ``apartments``: the register, linking an apartment to a cabinet, its meters and what
  the cabinet shows of it;
- ``readings``: the readings window, submitting readings, the reminders;
- ``bills``: tariffs, the monthly bills, a bill with its payment QR code, the statement of
  charges;
- ``payments``: operators' bank details and banks' payment files;
- ``requests``: service requests (Open311), their steps, photos, reopening and rating;
- ``base``: the tables, who may see an apartment, the readings window, an apartment's debt.

Clock: functions that depend on the date take ``now`` (UTC; default: the real clock);
windows and due dates are judged on the city's calendar (``INFOCITY_CITY_TIMEZONE``).

Callers import the package (``from infocity.housing import service``) and use the names
re-exported here.
"""

from __future__ import annotations

from infocity.housing.errors import PaymentFileRefused
from infocity.housing.service.apartments import (
    apartment_for_applicant,
    find_apartment,
    get_apartment_overview,
    link_apartment,
    list_my_apartments,
    register_apartment,
    register_meter,
)
from infocity.housing.service.bills import (
    STATEMENT_BILLS,
    generate_bills,
    generate_last_month_bills,
    get_bill,
    issue_charges_statement,
    set_tariff,
)
from infocity.housing.service.payments import (
    get_operator_bank_details,
    import_payments,
    my_operator_id,
    set_operator_bank_details,
)
from infocity.housing.service.readings import (
    REMINDER_BATCH,
    readings_window,
    send_reading_reminders,
    submit_reading,
    submit_readings,
)
from infocity.housing.service.requests import (
    OPEN311_DEFAULT_DAYS,
    REQUESTS_PER_HOUR,
    add_request_photo,
    file_request,
    get_request,
    get_request_detail,
    get_request_photo,
    housing_service,
    housing_services,
    list_my_requests,
    list_request_queue,
    list_requests,
    open311_status,
    operator_names,
    rate_request,
    reopen_request,
    request_status_label,
    update_request_status,
)

__all__ = [
    "OPEN311_DEFAULT_DAYS",
    "REMINDER_BATCH",
    "REQUESTS_PER_HOUR",
    "STATEMENT_BILLS",
    "PaymentFileRefused",
    "add_request_photo",
    "apartment_for_applicant",
    "file_request",
    "find_apartment",
    "generate_bills",
    "generate_last_month_bills",
    "get_apartment_overview",
    "get_bill",
    "get_operator_bank_details",
    "get_request",
    "get_request_detail",
    "get_request_photo",
    "housing_service",
    "housing_services",
    "import_payments",
    "issue_charges_statement",
    "link_apartment",
    "list_my_apartments",
    "list_my_requests",
    "list_request_queue",
    "list_requests",
    "my_operator_id",
    "open311_status",
    "operator_names",
    "rate_request",
    "readings_window",
    "register_apartment",
    "register_meter",
    "reopen_request",
    "request_status_label",
    "send_reading_reminders",
    "set_operator_bank_details",
    "set_tariff",
    "submit_reading",
    "submit_readings",
    "update_request_status",
]
