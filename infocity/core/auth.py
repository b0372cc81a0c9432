"""Who is acting, and what each role may do.

Authorization is decided here, in one matrix, and asked by service functions
(``authorize(principal, action, organisation_id)``); routes never decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from infocity.core.errors import Forbidden, Unauthenticated
from infocity.core.i18n import N_


class Role(StrEnum):
    CITIZEN = "citizen"
    REGISTRAR = "registrar"  # clinic reception
    DOCTOR = "doctor"
    CLINIC_ADMIN = "clinic_admin"
    SCHOOL_STAFF = "school_staff"
    KINDERGARTEN_STAFF = "kindergarten_staff"
    EXAM_OFFICIAL = "exam_official"
    # An official of a district's education office: the district's schools and kindergartens
    EDUCATION_OFFICIAL = "education_official"
    HOUSING_OPERATOR = "housing_operator"
    WIFI_OPERATOR = "wifi_operator"
    COLLEGE_STAFF = "college_staff"  # a college's or university's student office
    SECURITY_STAFF = "security_staff"
    ANALYST = "analyst"
    CITY_ADMIN = "city_admin"


# Which kind of organisation a staff role belongs to; None: the role is city-wide.
ROLE_ORGANISATION_KIND: dict[Role, str | None] = {
    Role.REGISTRAR: "clinic",
    Role.DOCTOR: "clinic",
    Role.CLINIC_ADMIN: "clinic",
    Role.SCHOOL_STAFF: "school",
    Role.KINDERGARTEN_STAFF: "kindergarten",
    Role.EXAM_OFFICIAL: None,
    Role.EDUCATION_OFFICIAL: "education_office",
    Role.HOUSING_OPERATOR: "housing_operator",
    Role.WIFI_OPERATOR: "wifi_operator",
    Role.COLLEGE_STAFF: "college",
    Role.SECURITY_STAFF: None,
    Role.ANALYST: None,
    Role.CITY_ADMIN: None,
}
STAFF_ROLES = tuple(ROLE_ORGANISATION_KIND)
# Roles whose grant names a district's office: they act on every organisation of that
# district (the grant carries the office's district), not on the office alone.
DISTRICT_ROLES = frozenset({Role.EDUCATION_OFFICIAL})


class Action(StrEnum):
    """Protected actions. Services add theirs here, with a row in ``PERMISSIONS``."""

    OWN_PROFILE_EDIT = "own_profile.edit"  # a citizen's own profile, documents, children
    INBOX_READ = "inbox.read"
    API_TOKEN_ISSUE = "api_token.issue"  # noqa: S105 - an action name, not a secret
    CITIZEN_LOOKUP = "citizen.lookup"  # staff reading a citizen's personal data (audited)
    ORGANISATION_STAFF_READ = "organisation.staff_read"
    DEVICE_KEY_ISSUE = "device_key.issue"
    STAFF_MANAGE = "staff.manage"
    AUDIT_READ = "audit.read"
    STATS_READ = "stats.read"
    WORKPLACE_OPEN = "workplace.open"  # the staff workplace page: own roles and organisations
    DIRECTORY_MANAGE = "directory.manage"  # districts and organisations of the city
    # Medical appointments (health)
    APPOINTMENT_BOOK_OWN = "appointment.book_own"  # a citizen, for themself and their children
    APPOINTMENT_BOOK_FOR_ANY = "appointment.book_for_any"  # clinic reception, any patient
    REFERRAL_ISSUE = "referral.issue"
    SCHEDULE_MANAGE = "schedule.manage"  # practitioners, weekly rules, exceptions
    APPOINTMENT_MARK_OUTCOME = "appointment.mark_outcome"  # attended / no-show, own patients
    HOME_VISIT_MANAGE = "home_visit.manage"  # the clinic's queue of home visit requests
    FHIR_CLIENT_REGISTER = "fhir_client.register"  # client systems of the FHIR API
    # Portal: applications to city services
    APPLICATION_SUBMIT = "application.submit"  # a citizen files and follows their own
    APPLICATION_PROCESS = "application.process"  # the responsible organisation's back office
    # Housing and utilities
    HOUSING_OWN = "housing.own"  # a citizen: link apartments, submit readings, file requests
    HOUSING_REQUESTS_PROCESS = "housing.requests_process"  # the operator's request queue
    HOUSING_BILLING = "housing.billing"  # meters, tariffs, bills, payments
    # Education
    EDUCATION_DIRECTORY_MANAGE = "education.directory_manage"  # schools, territories
    KINDERGARTEN_PLACES_MANAGE = "kindergarten.places_manage"  # a kindergarten's groups
    KINDERGARTEN_APPLY = "kindergarten.apply"  # a parent, for a child of their family
    KINDERGARTEN_ALLOCATE = "kindergarten.allocate"  # the city's allocation of places
    FIRST_GRADE_APPLY = "first_grade.apply"  # a parent, for a child of their family
    FIRST_GRADE_MANAGE = "first_grade.manage"  # the campaign, the places, the allocation
    FIRST_GRADE_SCHOOL = "first_grade.school"  # a school's list, confirming documents
    # Education: state exam results
    EXAM_RESULTS_IMPORT = "exam_results.import"  # exam officials load results and corrections
    EXAM_RESULTS_SUBSCRIBE = "exam_results.subscribe"  # told when a subject is published
    # Cards: students' social cards
    SOCIAL_CARD_HOLD = "social_card.hold"  # a student follows, activates, blocks their card
    SOCIAL_CARD_ISSUE = "social_card.issue"  # a college's student office issues and blocks
    # School cards ("pass and meals")
    SCHOOL_CARDS_ISSUE = "school_cards.issue"  # a school's cards: issue, block, re-issue
    SCHOOL_CARDS_OWN = "school_cards.own"  # a parent or trusted adult, for their pupils
    SCHOOL_CARDS_PAYMENTS = "school_cards.payments"  # the city's payment files
    # Public Wi-Fi
    WIFI_NETWORKS_MANAGE = "wifi.networks_manage"  # an operator's networks and hotspots
    WIFI_STATS_READ = "wifi.stats_read"  # connections, devices, sessions, traffic
    WIFI_BIND_OWN = "wifi.bind_own"  # a logged-in citizen binds a device without an SMS
    # School video surveillance
    SAFETY_REGISTRY_MANAGE = "safety.registry_manage"  # buildings, cameras, their staff
    SAFETY_MONITOR = "safety.monitor"  # scoped: security staff see the buildings they guard
    SAFETY_PROBE = "safety.probe"  # run the probe cycles (the worker, as SYSTEM)
    SAFETY_REPORTS = "safety.reports"  # uptime and coverage of the city


PERMISSIONS: dict[Action, frozenset[Role]] = {
    Action.OWN_PROFILE_EDIT: frozenset({Role.CITIZEN}),
    Action.INBOX_READ: frozenset({Role.CITIZEN, *STAFF_ROLES}),
    Action.API_TOKEN_ISSUE: frozenset({Role.CITIZEN, *STAFF_ROLES}),
    Action.CITIZEN_LOOKUP: frozenset(
        {
            Role.REGISTRAR,
            Role.DOCTOR,
            Role.CLINIC_ADMIN,
            Role.SCHOOL_STAFF,
            Role.KINDERGARTEN_STAFF,
            Role.HOUSING_OPERATOR,
            Role.CITY_ADMIN,
        }
    ),
    Action.ORGANISATION_STAFF_READ: frozenset({Role.CLINIC_ADMIN, Role.CITY_ADMIN}),
    Action.DEVICE_KEY_ISSUE: frozenset({Role.CITY_ADMIN}),
    Action.STAFF_MANAGE: frozenset({Role.CITY_ADMIN}),
    Action.AUDIT_READ: frozenset({Role.CITY_ADMIN}),
    Action.STATS_READ: frozenset({Role.ANALYST, Role.CITY_ADMIN}),
    Action.WORKPLACE_OPEN: frozenset(STAFF_ROLES),
    Action.DIRECTORY_MANAGE: frozenset({Role.CITY_ADMIN}),
    Action.APPOINTMENT_BOOK_OWN: frozenset({Role.CITIZEN}),
    Action.APPOINTMENT_BOOK_FOR_ANY: frozenset({Role.REGISTRAR, Role.CLINIC_ADMIN}),
    Action.REFERRAL_ISSUE: frozenset({Role.DOCTOR}),
    Action.SCHEDULE_MANAGE: frozenset({Role.CLINIC_ADMIN}),
    Action.APPOINTMENT_MARK_OUTCOME: frozenset({Role.DOCTOR}),
    Action.HOME_VISIT_MANAGE: frozenset({Role.REGISTRAR, Role.CLINIC_ADMIN}),
    Action.FHIR_CLIENT_REGISTER: frozenset({Role.CITY_ADMIN}),
    Action.APPLICATION_SUBMIT: frozenset({Role.CITIZEN}),
    # Scoped by the application's organisation: a registrar sees only their clinic's.
    Action.APPLICATION_PROCESS: frozenset(
        {
            Role.REGISTRAR,
            Role.CLINIC_ADMIN,
            Role.HOUSING_OPERATOR,
            Role.COLLEGE_STAFF,
            Role.CITY_ADMIN,
        }
    ),
    Action.HOUSING_OWN: frozenset({Role.CITIZEN}),
    Action.HOUSING_REQUESTS_PROCESS: frozenset({Role.HOUSING_OPERATOR}),
    Action.HOUSING_BILLING: frozenset({Role.HOUSING_OPERATOR, Role.CITY_ADMIN}),
    # Scoped by district: a district's officials register and edit its schools and
    # kindergartens and load its territories.
    Action.EDUCATION_DIRECTORY_MANAGE: frozenset({Role.EDUCATION_OFFICIAL, Role.CITY_ADMIN}),
    # Scoped: kindergarten staff set the places of their own kindergarten only.
    Action.KINDERGARTEN_PLACES_MANAGE: frozenset(
        {Role.KINDERGARTEN_STAFF, Role.EDUCATION_OFFICIAL, Role.CITY_ADMIN}
    ),
    Action.KINDERGARTEN_APPLY: frozenset({Role.CITIZEN}),
    # A district official previews its district's part and lists its waiting children;
    # the run itself is city-wide (parents choose across districts), so city officials'.
    Action.KINDERGARTEN_ALLOCATE: frozenset({Role.EDUCATION_OFFICIAL, Role.CITY_ADMIN}),
    Action.FIRST_GRADE_APPLY: frozenset({Role.CITIZEN}),
    Action.FIRST_GRADE_MANAGE: frozenset({Role.EDUCATION_OFFICIAL, Role.CITY_ADMIN}),
    # Scoped: school staff see and confirm their own school's first graders only.
    Action.FIRST_GRADE_SCHOOL: frozenset(
        {Role.SCHOOL_STAFF, Role.EDUCATION_OFFICIAL, Role.CITY_ADMIN}
    ),
    Action.EXAM_RESULTS_IMPORT: frozenset({Role.EXAM_OFFICIAL}),
    Action.EXAM_RESULTS_SUBSCRIBE: frozenset({Role.CITIZEN}),
    Action.SOCIAL_CARD_HOLD: frozenset({Role.CITIZEN}),
    # Scoped: a college's staff issue and block the cards of their own students only.
    Action.SOCIAL_CARD_ISSUE: frozenset({Role.COLLEGE_STAFF, Role.CITY_ADMIN}),
    # Scoped: school staff issue and block the cards of their own school's pupils only.
    Action.SCHOOL_CARDS_ISSUE: frozenset({Role.SCHOOL_STAFF, Role.CITY_ADMIN}),
    Action.SCHOOL_CARDS_OWN: frozenset({Role.CITIZEN}),
    Action.SCHOOL_CARDS_PAYMENTS: frozenset({Role.CITY_ADMIN}),
    # Scoped: a Wi-Fi operator reaches its own organisation's networks only.
    Action.WIFI_NETWORKS_MANAGE: frozenset({Role.WIFI_OPERATOR, Role.CITY_ADMIN}),
    Action.WIFI_STATS_READ: frozenset({Role.WIFI_OPERATOR, Role.ANALYST, Role.CITY_ADMIN}),
    Action.WIFI_BIND_OWN: frozenset({Role.CITIZEN}),
    Action.SAFETY_REGISTRY_MANAGE: frozenset({Role.CITY_ADMIN}),
    # Scoped by assignment, not by grant: security staff see only the buildings they are
    # responsible for (safety.service.base._visible_buildings).
    Action.SAFETY_MONITOR: frozenset({Role.SECURITY_STAFF, Role.CITY_ADMIN}),
    Action.SAFETY_PROBE: frozenset({Role.CITY_ADMIN}),
    Action.SAFETY_REPORTS: frozenset({Role.ANALYST, Role.CITY_ADMIN}),
}


# What an account may do before its e-mail or phone is confirmed: read the inbox (where
# the demo delivers SMS) and log an app in. Everything else - booking, applications,
# claiming documents or children - waits, so mass sign-ups cannot act.
UNVERIFIED_ACTIONS = frozenset({Action.INBOX_READ, Action.API_TOKEN_ISSUE})


@dataclass(frozen=True)
class Grant:
    role: Role
    organisation_id: int | None  # None: city-wide
    # The district of the grant's organisation, for the roles in DISTRICT_ROLES.
    district_id: int | None = None

    def covers(self, organisation_id: int | None, district_id: int | None) -> bool:
        """Whether this grant reaches the organisation (of that district)."""
        if organisation_id is None and district_id is None:
            return True  # the question is not about one organisation
        if self.organisation_id is None or self.organisation_id == organisation_id:
            return True
        return (
            self.role in DISTRICT_ROLES
            and self.district_id is not None
            and self.district_id == district_id
        )


SYSTEM_KIND = "system"


@dataclass(frozen=True)
class Principal:
    """The authenticated user behind a request, or ``SYSTEM``: the command line, the demo
    and the jobs. ``None`` where a principal is expected always means anonymous."""

    user_id: int
    kind: str  # citizen | staff
    display_name: str
    locale: str = "ru"
    person_id: int | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)
    # False for a citizen who signed up and has not opened the link sent to their e-mail
    # or phone yet: they may log in and read, but not act (see ``authorize``).
    verified: bool = True

    @property
    def roles(self) -> frozenset[Role]:
        """The roles in effect: none until the account's contact is confirmed, so no
        check by role lets an unconfirmed account act."""
        if not self.verified:
            return frozenset()
        return frozenset(g.role for g in self.grants)

    def is_city_admin(self) -> bool:
        return Role.CITY_ADMIN in self.roles

    def districts(self, action: Action) -> frozenset[int] | None:
        """The districts where the user may do ``action`` through a district role, or
        None when a city-wide grant (or ``SYSTEM``) lets them do it everywhere. Lists of
        organisations are narrowed with it."""
        if self.is_system:
            return None
        found: set[int] = set()
        for grant in self.grants:
            if grant.role not in self.roles or grant.role not in PERMISSIONS[action]:
                continue
            if grant.organisation_id is None:
                return None
            if grant.role in DISTRICT_ROLES and grant.district_id is not None:
                found.add(grant.district_id)
        return frozenset(found)

    @property
    def is_system(self) -> bool:
        return self.kind == SYSTEM_KIND

    @property
    def acting_user_id(self) -> int | None:
        """The user to record as the author of a change; None for ``SYSTEM``."""
        return None if self.is_system else self.user_id

    @classmethod
    def system(cls) -> Principal:
        return SYSTEM


# The trusted caller: the command line, the demo seeding, periodic jobs and the hooks one
# service runs for another after its own checks. It may do every action; it is never a
# user (no row in ``users``: ``acting_user_id`` is None), so it cannot come from a request.
SYSTEM = Principal(user_id=0, kind=SYSTEM_KIND, display_name="InfoCity")


def allowed(
    principal: Principal,
    action: Action,
    organisation_id: int | None = None,
    *,
    district_id: int | None = None,
) -> bool:
    """Whether ``principal`` may do ``action`` (in ``organisation_id``, of the district
    ``district_id``, when it is scoped).

    A city-wide grant (organisation None) covers every organisation; an organisation
    grant covers only its own organisation; a district role's grant, every organisation
    of its district (the caller names the district). ``SYSTEM`` may do everything.
    """
    if principal.is_system:
        return True
    if not principal.verified and action not in UNVERIFIED_ACTIONS:
        return False
    permitted = PERMISSIONS[action]
    for grant in principal.grants:
        if grant.role not in permitted:
            continue
        if grant.covers(organisation_id, district_id):
            return True
    return False


def authorize(
    principal: Principal | None,
    action: Action,
    organisation_id: int | None = None,
    *,
    district_id: int | None = None,
) -> Principal:
    """Return ``principal`` if it may do ``action``; refuse otherwise."""
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    if not principal.verified and action not in UNVERIFIED_ACTIONS:
        raise Forbidden(
            "verification_required",
            N_(
                "Please confirm your e-mail or phone number first: open the link we sent "
                "you when you registered."
            ),
        )
    if not allowed(principal, action, organisation_id, district_id=district_id):
        raise Forbidden("forbidden", N_("You do not have access to this."))
    return principal
