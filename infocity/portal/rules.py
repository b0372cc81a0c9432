"""Pure rules of the portal: the application life cycle, deadlines, attachments, search.

No database and no web here (import-linter enforces it); ``portal.service`` asks these
functions and writes what they decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from infocity.core.i18n import N_
from infocity.core.workdays import add_working_days as add_working_days  # the terms' days
from infocity.portal import errors


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    NEEDS_INFORMATION = "needs_information"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Move(StrEnum):
    """What someone does to an application."""

    SUBMIT = "submit"  # the applicant sends a draft, or answers an information request
    TAKE = "take"  # the back office starts the review (on assignment)
    REQUEST_INFORMATION = "request_information"
    APPROVE = "approve"
    REJECT = "reject"
    COMPLETE = "complete"  # the result is issued
    WITHDRAW = "withdraw"  # the applicant changes their mind


class Side(StrEnum):
    APPLICANT = "applicant"
    STAFF = "staff"


# (status, move) -> (new status, who may make the move). Everything not listed is refused.
TRANSITIONS: dict[tuple[Status, Move], tuple[Status, Side]] = {
    (Status.DRAFT, Move.SUBMIT): (Status.SUBMITTED, Side.APPLICANT),
    (Status.NEEDS_INFORMATION, Move.SUBMIT): (Status.SUBMITTED, Side.APPLICANT),
    (Status.SUBMITTED, Move.TAKE): (Status.IN_REVIEW, Side.STAFF),
    (Status.IN_REVIEW, Move.REQUEST_INFORMATION): (Status.NEEDS_INFORMATION, Side.STAFF),
    (Status.IN_REVIEW, Move.APPROVE): (Status.APPROVED, Side.STAFF),
    (Status.IN_REVIEW, Move.REJECT): (Status.REJECTED, Side.STAFF),
    (Status.APPROVED, Move.COMPLETE): (Status.COMPLETED, Side.STAFF),
    (Status.DRAFT, Move.WITHDRAW): (Status.WITHDRAWN, Side.APPLICANT),
    (Status.SUBMITTED, Move.WITHDRAW): (Status.WITHDRAWN, Side.APPLICANT),
    (Status.IN_REVIEW, Move.WITHDRAW): (Status.WITHDRAWN, Side.APPLICANT),
    (Status.NEEDS_INFORMATION, Move.WITHDRAW): (Status.WITHDRAWN, Side.APPLICANT),
}
FINAL_STATUSES = frozenset({Status.REJECTED, Status.COMPLETED, Status.WITHDRAWN})
# The term runs only while the city has the next step; not while the applicant does.
CLOCK_RUNNING = frozenset({Status.SUBMITTED, Status.IN_REVIEW})
# Staff see an application once it has been submitted; drafts are the applicant's own.
VISIBLE_TO_STAFF = frozenset(set(Status) - {Status.DRAFT})
REASON_REQUIRED = frozenset({Move.REJECT, Move.REQUEST_INFORMATION})
MAX_REASON = 2000

STATUS_LABELS = {
    Status.DRAFT: N_("Draft"),
    Status.SUBMITTED: N_("Submitted"),
    Status.IN_REVIEW: N_("In review"),
    Status.NEEDS_INFORMATION: N_("Information requested"),
    Status.APPROVED: N_("Approved"),
    Status.REJECTED: N_("Rejected"),
    Status.COMPLETED: N_("Completed"),
    Status.WITHDRAWN: N_("Withdrawn"),
}


# What a move is called on a button and in the API, by the one who makes it.
MOVE_LABELS = {
    Move.SUBMIT: N_("Submit the application"),
    Move.TAKE: N_("Take into review"),
    Move.REQUEST_INFORMATION: N_("Ask for more information"),
    Move.APPROVE: N_("Approve"),
    Move.REJECT: N_("Reject"),
    Move.COMPLETE: N_("Mark as completed"),
    Move.WITHDRAW: N_("Withdraw the application"),
}


def transition(current: str, move: Move, side: Side, reason: str | None = None) -> Status:
    """The status ``move`` leads to from ``current``, or a refusal with a code.

    ``invalid_transition`` (409) when the move is not allowed from this status or not by
    this side; ``reason_required`` (422) when a refusal or an information request has no
    reason.
    """
    try:
        status = Status(current)
    except ValueError:
        status = None
    target = TRANSITIONS.get((status, move)) if status is not None else None
    if target is None or target[1] is not side:
        raise errors.InvalidTransition()
    if move in REASON_REQUIRED and not (reason or "").strip():
        raise errors.ReasonRequired()
    if reason is not None and len(reason) > MAX_REASON:
        raise errors.ReasonTooLong()
    return target[0]


def allowed_moves(current: str, side: Side) -> list[Move]:
    """The moves ``side`` may make from ``current`` (for buttons on pages)."""
    return [
        move
        for (status, move), (_, who) in TRANSITIONS.items()
        if status == current and who is side
    ]


# --- Deadlines ------------------------------------------------------------------------


def deadline(submitted_at: datetime, days: int, *, working_days: bool, tz: ZoneInfo) -> datetime:
    """The end of the term: the end of the last day of it in the city (as UTC-aware)."""
    local_day = submitted_at.astimezone(tz).date()
    last = add_working_days(local_day, days) if working_days else local_day + timedelta(days=days)
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)


def is_overdue(status: str, deadline_at: datetime | None, now: datetime) -> bool:
    """Whether the city is late: the term has passed while the next step is the city's."""
    return deadline_at is not None and status in CLOCK_RUNNING and now >= deadline_at


# --- Attachments ----------------------------------------------------------------------

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
MAX_ATTACHMENTS = 10
MAX_CABINET_DOCUMENTS = 50  # per citizen: certificates of a family, not an archive
ALLOWED_TYPES = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}
_EXTENSIONS = {
    ".pdf": "application/pdf",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
}


def sniff_content_type(data: bytes) -> str | None:
    """The type the file's first bytes show (PDF, JPEG or PNG), whatever its name says."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def check_attachment(filename: str, data: bytes) -> tuple[str, str]:
    """A safe file name and the content type, or a refusal (size, type, name mismatch)."""
    if not data:
        raise errors.FileEmpty()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise errors.FileTooLarge(MAX_ATTACHMENT_BYTES // (1024 * 1024))
    content_type = sniff_content_type(data)
    name = safe_filename(filename)
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if content_type is None or _EXTENSIONS.get(suffix) != content_type:
        raise errors.FileTypeNotAllowed()
    return name, content_type


def safe_filename(filename: str) -> str:
    """The last part of a path, without control characters or quotes, at most 255 long."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in "\"';<>")
    return name.strip()[-255:] or "file"


# --- Catalogue search -----------------------------------------------------------------

MAX_QUERY = 100


def search_text(*parts: str) -> str:
    """What catalogue search matches against: the parts case-folded, ё read as е."""
    return " ".join(fold(p) for p in parts)


def fold(text: str) -> str:
    return " ".join(text.casefold().replace("ё", "е").split())


LIKE_ESCAPE = "!"


def like_pattern(query: str) -> str:
    """A ``LIKE`` pattern (escape character ``LIKE_ESCAPE``) matching the folded query anywhere."""
    folded = fold(query[:MAX_QUERY])
    escaped = folded.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class CategorySeed:
    code: str
    name_ru: str
    name_en: str


@dataclass(frozen=True)
class ServiceSeed:
    code: str
    category: str
    name_ru: str
    name_en: str
    description_ru: str
    description_en: str
    audience_ru: str
    audience_en: str
    link: str | None
    application_type: str | None = None


CATEGORIES = (
    CategorySeed("health", "Здоровье", "Health"),
    CategorySeed("education", "Образование", "Education"),
    CategorySeed("housing", "Жильё и ЖКХ", "Housing and utilities"),
    CategorySeed("social", "Социальная поддержка", "Social support"),
    CategorySeed("transport", "Транспорт", "Transport"),
    CategorySeed("wifi", "Городской Wi-Fi", "City Wi-Fi"),
)

CITIZENS_RU, CITIZENS_EN = "Жители города с учётной записью", "City residents with an account"
PARENTS_RU, PARENTS_EN = "Родители и законные представители", "Parents and legal guardians"

SERVICES = (
    ServiceSeed(
        "doctor_appointment",
        "health",
        "Запись к врачу",
        "Book a doctor",
        "Запись на приём к врачу в поликлинику прикрепления: терапевт, педиатр и другие "
        "специалисты, перенос и отмена записи.",
        "Book, move or cancel an appointment with a doctor at your polyclinic: general "
        "practitioner, paediatrician and other specialists.",
        "Жители города с полисом ОМС и их дети",
        "City residents with an OMS policy, and their children",
        "/health",
    ),
    ServiceSeed(
        "clinic_attachment",
        "health",
        "Прикрепление к поликлинике",
        "Attachment to a polyclinic",
        "Заявление о прикреплении к другой поликлинике (не чаще раза в год) для себя или ребёнка.",
        "Apply to be attached to another polyclinic (at most once a year) for yourself or "
        "your child.",
        "Жители города с полисом ОМС и их дети",
        "City residents with an OMS policy, and their children",
        "/applications/new/clinic_attachment",
        "clinic_attachment",
    ),
    ServiceSeed(
        "kindergarten_enrolment",
        "education",
        "Запись в детский сад",
        "Kindergarten enrolment",
        "Заявление о зачислении ребёнка в детский сад, очередь и выбор сада.",
        "Apply for a kindergarten place for your child: the queue and the choice of kindergarten.",
        PARENTS_RU,
        PARENTS_EN,
        "/education/kindergarten",
    ),
    ServiceSeed(
        "school_enrolment",
        "education",
        "Запись в первый класс",
        "School enrolment",
        "Заявление о приёме ребёнка в первый класс школы.",
        "Apply for your child's place in the first form of a school.",
        PARENTS_RU,
        PARENTS_EN,
        "/education/first-grade",
    ),
    ServiceSeed(
        "exam_results",
        "education",
        "Результаты экзаменов ГИА и ЕГЭ",
        "Exam results (GIA and EGE)",
        "Результаты государственных экзаменов выпускников.",
        "Look up the results of the state school exams.",
        "Выпускники и их родители",
        "School leavers and their parents",
        "/education/exams",
    ),
    ServiceSeed(
        "utility_information",
        "housing",
        "Информация о начислениях за ЖКУ",
        "Utility charges information",
        "Запрос сведений о начислениях и оплате жилищно-коммунальных услуг по коду плательщика.",
        "Request information about the utility charges and payments of an apartment by its "
        "payer code.",
        "Собственники и жильцы квартир",
        "Apartment owners and residents",
        "/applications/new/utility_information",
        "utility_information",
    ),
    ServiceSeed(
        "housing_problem_report",
        "housing",
        "Сообщить о проблеме в доме",
        "Report a problem in a building",
        "Сообщение о неисправности в доме или во дворе управляющей организации.",
        "Tell the housing operator about a fault in a building or its yard.",
        CITIZENS_RU,
        CITIZENS_EN,
        "/housing/requests/new",
    ),
    ServiceSeed(
        "meter_readings",
        "housing",
        "Передача показаний счётчиков",
        "Meter readings",
        "Показания счётчиков воды и электроэнергии с 15-го числа по 3-е следующего месяца, "
        "история показаний и единый платёжный документ.",
        "Send water and electricity meter readings from the 15th to the 3rd of the next "
        "month; see their history and the monthly bill.",
        "Собственники и жильцы квартир",
        "Apartment owners and residents",
        "/housing",
    ),
    ServiceSeed(
        "student_social_card",
        "social",
        "Социальная карта студента",
        "Student social card",
        "Оформление социальной карты студента и учащегося: льготный проезд и скидки.",
        "Get a student's social card: reduced fares and discounts.",
        "Студенты и учащиеся очной формы обучения",
        "Full-time students and pupils",
        "/cards/social",
        "student_social_card",
    ),
    ServiceSeed(
        "school_pass_meals",
        "social",
        "Проход и питание в школе",
        "School pass and meals",
        "Уведомления родителям о входе ребёнка в школу и покупках в столовой.",
        "Notices to parents when their child enters the school and buys in the canteen.",
        PARENTS_RU,
        PARENTS_EN,
        "/cards",
    ),
    ServiceSeed(
        "transport_discount",
        "transport",
        "Льготный проезд для студентов",
        "Reduced fares for students",
        "Льготный проезд в городском транспорте по социальной карте студента.",
        "Reduced fares on city transport with a student's social card.",
        "Студенты и учащиеся очной формы обучения",
        "Full-time students and pupils",
        None,
    ),
    ServiceSeed(
        "city_wifi",
        "wifi",
        "Бесплатный Wi-Fi в городе",
        "Free city Wi-Fi",
        "Бесплатный доступ в интернет в парках, метро и студенческих общежитиях; вход по "
        "номеру телефона.",
        "Free internet access in parks, the metro and student dormitories; log in with your "
        "phone number.",
        "Все, у кого есть мобильный телефон",
        "Anyone with a mobile phone",
        "/wifi/portal",
    ),
)

# What the portal records in the audit log (each move of an application), and how the
# log's page names it.
AUDIT_ACTIONS = {
    "portal.applicant_name": N_("Read an applicant's name"),
    "portal.application_read": N_("Opened an application"),
    "portal.application_submit": N_("Submitted an application"),
    "portal.application_take": N_("Took an application into review"),
    "portal.application_request_information": N_("Asked an applicant for information"),
    "portal.application_approve": N_("Approved an application"),
    "portal.application_reject": N_("Rejected an application"),
    "portal.application_complete": N_("Completed an application"),
    "portal.application_withdraw": N_("Withdrew an application"),
}
