"""Pure rules of housing and utilities: the readings window, what a reading may be, the
bill arithmetic, the Open311 service list and request statuses. No database, no web.

A ``period`` is the first day of a month (a city date).
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from infocity.core.i18n import N_
from infocity.housing import errors

METER_KINDS = ("cold_water", "hot_water", "electricity_day", "electricity_night")
# What a bill charges: every meter kind, and water disposal (cold + hot water).
BILLED_SERVICES = (*METER_KINDS, "water_disposal")
WATER_KINDS = ("cold_water", "hot_water")

# Consumption norms per resident per month (Moscow's norms for an apartment with water
# meters, bath and electric stove; a city changes them here).
NORMS: dict[str, Decimal] = {
    "cold_water": Decimal("6.935"),
    "hot_water": Decimal("4.745"),
    "electricity_day": Decimal("70"),
    "electricity_night": Decimal("30"),
}
UNITS = {
    "cold_water": N_("m³"),
    "hot_water": N_("m³"),
    "water_disposal": N_("m³"),
    "electricity_day": N_("kWh"),
    "electricity_night": N_("kWh"),
}
SERVICE_LABELS = {
    "cold_water": N_("Cold water"),
    "hot_water": N_("Hot water"),
    "water_disposal": N_("Water disposal"),
    "electricity_day": N_("Electricity, day"),
    "electricity_night": N_("Electricity, night"),
}
CENT = Decimal("0.01")
QUANTITY = Decimal("0.001")
# What a meter can show: digits before the decimal point (water meters have five drums,
# electricity meters six), and three decimals. A reading beyond this is a typing error.
METER_DIGITS = {"cold_water": 5, "hot_water": 5, "electricity_day": 6, "electricity_night": 6}
# The largest figures the bill columns hold (NUMERIC(12, 3) quantities, NUMERIC(12, 2)
# money): a bill beyond them cannot be stored, whatever led to it.
MAX_QUANTITY = Decimal("999999999.999")
MAX_AMOUNT = Decimal("9999999999.99")
# A number as a person types it: ASCII digits, optionally grouped by thousands with a
# space (or the no-break spaces a copied number carries), a point or a comma, at most
# three decimals. No exponent, underscores, signs or digits of other scripts.
_TYPED_READING = re.compile(
    r"(?:[0-9]+|[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+)(?:[.,][0-9]{1,3})?", re.ASCII
)


# --- Periods and the readings window -------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(period: date) -> date:
    return (period.replace(day=28) + timedelta(days=4)).replace(day=1)


def previous_month(period: date) -> date:
    return (period.replace(day=1) - timedelta(days=1)).replace(day=1)


def parse_period(value: str) -> date:
    """``YYYY-MM`` as the first day of that month; InvalidInput otherwise."""
    try:
        year, month = value.strip().split("-")
        return date(int(year), int(month), 1)
    except ValueError as exc:
        raise errors.InvalidPeriod() from exc


@dataclass(frozen=True)
class Window:
    """The days (city dates, inclusive) when readings for ``period`` are taken."""

    period: date
    first_day: date
    last_day: date


def window_for(period: date, start_day: int, end_day: int) -> Window:
    """The readings window of ``period``: from ``start_day`` of the month to ``end_day``
    of the next one (or of the same month when ``end_day`` comes after ``start_day``)."""
    first = period.replace(day=start_day)
    last_month = next_month(period) if end_day < start_day else period
    return Window(period, first, last_month.replace(day=end_day))


def open_window(today: date, start_day: int, end_day: int) -> Window | None:
    """The window open on ``today`` (a city date), or None when readings are closed."""
    for period in (month_start(today), previous_month(today)):
        window = window_for(period, start_day, end_day)
        if window.first_day <= today <= window.last_day:
            return window
    return None


def next_open_window(today: date, start_day: int, end_day: int) -> Window:
    """The window open now or the next one to open."""
    current = open_window(today, start_day, end_day)
    if current is not None:
        return current
    period = month_start(today)
    while True:
        window = window_for(period, start_day, end_day)
        if window.first_day > today:
            return window
        period = next_month(period)


def last_closed_period(today: date, start_day: int, end_day: int) -> date:
    """The latest period whose readings window has closed by ``today``: its bills can be
    made without a reading arriving afterwards."""
    period = month_start(today)
    while window_for(period, start_day, end_day).last_day >= today:
        period = previous_month(period)
    return period


# --- Readings ------------------------------------------------------------------------


def parse_reading(text: str) -> Decimal:
    """A reading as typed: ``12345``, ``123.45``, ``123,45``, ``12 345,6``; ValueError
    (with a message id) for anything else, such as ``1e4``, ``7_000`` or ``١٢٣``."""
    text = text.strip()
    if len(text) > 32 or not _TYPED_READING.fullmatch(text):
        raise ValueError(N_("Enter the number shown on the meter, for example 123.45."))
    return Decimal(re.sub(r"[ \u00a0\u202f]", "", text).replace(",", "."))


def meter_capacity(kind: str) -> Decimal:
    """The largest reading a meter of ``kind`` can show (99999.999 for water)."""
    return Decimal(10) ** METER_DIGITS[kind] - QUANTITY


def consumption_limit(kind: str, residents: int, factor: float) -> Decimal:
    """The consumption above which a reading must be confirmed: norm x residents x factor
    (an empty apartment counts as one resident)."""
    return (NORMS[kind] * max(residents, 1) * Decimal(str(factor))).quantize(QUANTITY)


def check_reading(
    value: Decimal,
    previous: Decimal,
    *,
    limit: Decimal,
    confirmed: bool,
    capacity: Decimal = MAX_QUANTITY,
) -> Decimal:
    """The consumption the reading shows since ``previous``; refused below the last
    reading and above what the meter can show (``capacity``), and asks for confirmation
    above ``limit``."""
    if value < 0:
        raise errors.InvalidReading()
    if value > capacity:
        # Confirming cannot help: no meter shows this, so no bill may be made of it.
        raise errors.ReadingOutOfRange(
            value=format_quantity(value),
            capacity=format_quantity(capacity),
        )
    if value < previous:
        raise errors.ReadingBelowPrevious(
            value=format_quantity(value),
            previous=format_quantity(previous),
        )
    consumption = value - previous
    if consumption > limit and not confirmed:
        raise errors.ReadingNeedsConfirmation(
            consumption=format_quantity(consumption),
            limit=format_quantity(limit),
        )
    return consumption


def format_quantity(value: Decimal) -> str:
    """A reading without trailing zeros: 123.400 -> 123.4, 10.000 -> 10."""
    text = f"{value.quantize(QUANTITY):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- Bills ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    service: str
    basis: str  # meter | norm
    quantity: Decimal


@dataclass(frozen=True)
class Line:
    service: str
    basis: str
    quantity: Decimal
    price: Decimal
    amount: Decimal


def norm_quantity(kind: str, residents: int) -> Decimal:
    """What a month is charged without a meter reading: norm x residents."""
    return (NORMS[kind] * residents).quantize(QUANTITY)


def bill_lines(
    metered: dict[str, Decimal | None], residents: int, prices: dict[str, Decimal]
) -> list[Line]:
    """The bill of a month: for each meter kind the metered consumption, or the norm
    where none came (``None``); water disposal is cold + hot water; amount = quantity x
    price rounded to kopecks (half up)."""
    inputs = []
    for kind in METER_KINDS:
        quantity = metered.get(kind)
        if quantity is None:
            inputs.append(LineInput(kind, "norm", norm_quantity(kind, residents)))
        else:
            inputs.append(LineInput(kind, "meter", quantity.quantize(QUANTITY)))
    water = [line for line in inputs if line.service in WATER_KINDS]
    disposal_basis = "meter" if all(line.basis == "meter" for line in water) else "norm"
    inputs.append(
        LineInput("water_disposal", disposal_basis, sum((w.quantity for w in water), Decimal(0)))
    )
    lines = [
        Line(
            line.service,
            line.basis,
            line.quantity,
            prices[line.service],
            (line.quantity * prices[line.service]).quantize(CENT, rounding=ROUND_HALF_UP),
        )
        for line in inputs
    ]
    total = sum((line.amount for line in lines), Decimal(0))
    if total > MAX_AMOUNT or any(line.quantity > MAX_QUANTITY for line in lines):
        raise BillOutOfRange(
            f"bill of {total} (quantities {', '.join(str(line.quantity) for line in lines)}) "
            "exceeds what a bill can hold"
        )
    return lines


class BillOutOfRange(ValueError):
    """A bill too large to be stored: some reading behind it cannot be right."""


def parse_amount(text: str) -> Decimal:
    """A money amount as written in a bank file: ``1234.50``, ``1234,50``, ``1 234,50``;
    ValueError when it is not a positive amount in kopecks that a bill can hold."""
    cleaned = _SPACES.sub("", text.strip())
    if len(cleaned) > 32 or not _AMOUNT.fullmatch(cleaned):
        raise ValueError("amount must be a positive sum such as 1234.50")
    value = Decimal(cleaned.replace(",", "."))
    if value <= 0:
        raise ValueError("amount must be a positive sum such as 1234.50")
    if value > MAX_AMOUNT:
        raise ValueError(f"amount must be at most {MAX_AMOUNT}")
    return value


# --- Payment files ---------------------------------------------------------------------

PAYMENT_COLUMNS = ("payment_id", "payer_code", "amount", "paid_on")
MAX_PAYMENT_ID = 64
EARLIEST_PAYMENT = date(2000, 1, 1)  # older dates are typing errors, not payments
_AMOUNT = re.compile(r"[0-9]+(?:[.,][0-9]{1,2})?", re.ASCII)
_SPACES = re.compile(r"[ \u00a0\u202f]")
_PAYER_CODE = re.compile(r"[0-9]{10}", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class PaymentRow:
    line: int
    external_id: str
    payer_code: str
    amount: Decimal
    paid_on: date


def decode_payment_file(data: bytes) -> str:
    """A bank's file as text: UTF-8 (with or without a byte-order mark) or, as Russian
    banks' software often writes, Windows-1251; ValueError for anything else."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1251")
    except UnicodeDecodeError as exc:
        raise ValueError("the file is neither UTF-8 nor Windows-1251 text") from exc


def parse_payments(text: str, *, today: date) -> tuple[list[PaymentRow], list[tuple[int, str]]]:
    """The rows of a payment file (CSV with a header naming ``PAYMENT_COLUMNS``) and the
    problems of the bad ones as (line, English message); paid dates must lie between
    ``EARLIEST_PAYMENT`` and the day after ``today`` (a bank a time zone ahead)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip() for name in next(reader, [])]
    except csv.Error as exc:
        return [], [(1, f"the header cannot be read: {exc}")]
    missing = [c for c in PAYMENT_COLUMNS if c not in header]
    if missing:
        return [], [(1, f"missing columns: {', '.join(missing)}")]
    i_id, i_code, i_amount, i_date = (header.index(c) for c in PAYMENT_COLUMNS)
    width = max(i_id, i_code, i_amount, i_date) + 1
    latest = today + timedelta(days=1)
    rows: list[PaymentRow] = []
    errors: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    while True:
        try:
            record = next(reader, None)
        except csv.Error as exc:  # e.g. a quote left open up to the end of the file
            errors.append((reader.line_num, f"the line cannot be read as CSV: {exc}"))
            break
        if record is None:
            break
        line = reader.line_num
        if not record or record == [""]:
            continue  # blank lines carry nothing
        if len(record) < width:
            errors.append((line, f"{len(record)} fields, expected {len(header)}"))
            continue
        # Plain indexing: this loop runs a million times for a large bank's file.
        raw_id, raw_code = record[i_id].strip(), record[i_code].strip()
        raw_amount, raw_date = record[i_amount], record[i_date].strip()
        problems = []
        # The other fields are matched whole against digits, so only the id can carry
        # a control character through.
        if _CONTROL.search(raw_id):
            problems.append("control characters are not allowed")
        elif not raw_id or len(raw_id) > MAX_PAYMENT_ID:
            problems.append(f"payment_id must be 1 to {MAX_PAYMENT_ID} characters")
        elif raw_id in seen:
            problems.append(f"payment_id repeats line {seen[raw_id]}")
        if not _PAYER_CODE.fullmatch(raw_code):
            problems.append("payer_code must be 10 digits")
        try:
            amount = parse_amount(raw_amount)
        except ValueError as exc:
            problems.append(str(exc))
        paid_on = None
        if _ISO_DATE.fullmatch(raw_date):
            with contextlib.suppress(ValueError):  # 2026-02-30
                paid_on = date.fromisoformat(raw_date)
        if paid_on is None:
            problems.append("paid_on must be a date YYYY-MM-DD")
        elif not EARLIEST_PAYMENT <= paid_on <= latest:
            problems.append(f"paid_on must be between {EARLIEST_PAYMENT} and {latest}")
        if problems:
            errors.append((line, "; ".join(problems)))
            continue
        assert paid_on is not None
        seen[raw_id] = line
        rows.append(PaymentRow(line, raw_id, raw_code, amount, paid_on))
    return rows, errors


# --- Service requests (Open311) --------------------------------------------------------


@dataclass(frozen=True)
class HousingService:
    """A kind of housing problem a citizen can report (an Open311 "service")."""

    code: str
    name: str  # English message id
    description: str
    keywords: tuple[str, ...]


SERVICES = (
    HousingService(
        "no_hot_water",
        N_("No hot water"),
        N_("There is no hot water, or it is barely warm."),
        ("water", "hot water"),
    ),
    HousingService(
        "no_cold_water",
        N_("No cold water"),
        N_("There is no cold water, or the pressure is too low."),
        ("water", "cold water"),
    ),
    HousingService(
        "water_leak",
        N_("Water leak"),
        N_("Water is leaking from a pipe, a riser or the apartment above."),
        ("water", "leak", "flooding"),
    ),
    HousingService(
        "heating",
        N_("Heating problem"),
        N_("Radiators are cold, or a radiator is leaking."),
        ("heating", "radiator"),
    ),
    HousingService(
        "electricity",
        N_("Power outage"),
        N_("No electricity in the apartment or on the staircase."),
        ("electricity", "light"),
    ),
    HousingService(
        "elevator",
        N_("Elevator out of order"),
        N_("The elevator does not work or is stuck."),
        ("elevator", "lift"),
    ),
    HousingService(
        "cleaning",
        N_("Cleaning of common areas"),
        N_("The staircase, the entrance or the rubbish chute needs cleaning."),
        ("cleaning", "rubbish"),
    ),
)
SERVICES_BY_CODE = {service.code: service for service in SERVICES}


class RequestStatus(StrEnum):
    """Where a service request is (the stored value)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"


class Mover(StrEnum):
    """Who takes a step of a request."""

    OPERATOR = "operator"  # the staff who process the operator's requests
    CITIZEN = "citizen"  # the citizen who filed it


STATUS_LABELS = {
    RequestStatus.OPEN: N_("New"),
    RequestStatus.ACKNOWLEDGED: N_("Acknowledged"),
    RequestStatus.IN_PROGRESS: N_("In progress"),
    RequestStatus.CLOSED: N_("Resolved"),
}
# (from, to) -> who may take the step. Requests move forward, except that the citizen may
# reopen a request closed without a fix (``can_reopen``); staff never do. Everything not
# listed is refused.
TRANSITIONS: dict[tuple[RequestStatus, RequestStatus], Mover] = {
    (RequestStatus.OPEN, RequestStatus.ACKNOWLEDGED): Mover.OPERATOR,
    (RequestStatus.OPEN, RequestStatus.IN_PROGRESS): Mover.OPERATOR,
    (RequestStatus.ACKNOWLEDGED, RequestStatus.IN_PROGRESS): Mover.OPERATOR,
    (RequestStatus.OPEN, RequestStatus.CLOSED): Mover.OPERATOR,
    (RequestStatus.ACKNOWLEDGED, RequestStatus.CLOSED): Mover.OPERATOR,
    (RequestStatus.IN_PROGRESS, RequestStatus.CLOSED): Mover.OPERATOR,
    (RequestStatus.CLOSED, RequestStatus.OPEN): Mover.CITIZEN,
}


def steps_to(status: str, mover: Mover) -> tuple[RequestStatus, ...]:
    """The statuses from which ``mover`` may move a request to ``status`` (the guard of
    the step's UPDATE)."""
    return tuple(
        source for (source, target), who in TRANSITIONS.items() if target == status and who is mover
    )


def next_steps(status: str, mover: Mover) -> list[RequestStatus]:
    """The statuses ``mover`` may move a request in ``status`` to (the choices on pages)."""
    return [
        target for (source, target), who in TRANSITIONS.items() if source == status and who is mover
    ]


REOPEN_DAYS = 30  # after this a problem that came back is a new request
RATINGS = range(1, 6)
MAX_PHOTOS = 5  # per request
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}


def can_reopen(status: str, closed_at: datetime | None, now: datetime) -> bool:
    """A closed request may be reopened for ``REOPEN_DAYS`` days after its closing."""
    return (
        status == RequestStatus.CLOSED
        and closed_at is not None
        and now - closed_at <= timedelta(days=REOPEN_DAYS)
    )


def can_rate(status: str, rating: int | None) -> bool:
    """The outcome is rated once, when the request is closed."""
    return status == RequestStatus.CLOSED and rating is None


def check_photo(filename: str, data: bytes) -> tuple[str, str]:
    """A photo's safe file name and content type (JPEG or PNG by its bytes and its
    name), or InvalidInput."""
    if not data:
        raise errors.FileEmpty()
    if len(data) > MAX_PHOTO_BYTES:
        raise errors.FileTooLarge(limit=MAX_PHOTO_BYTES // (1024 * 1024))
    if data.startswith(b"\xff\xd8\xff"):
        content_type: str | None = "image/jpeg"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        content_type = "image/png"
    else:
        content_type = None
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in "\"';<>").strip()[-255:]
    if content_type is None or not name.lower().endswith(PHOTO_TYPES[content_type]):
        raise errors.PhotoTypeNotAllowed()
    return name, content_type


def open311_status(status: str) -> str:
    """Open311 knows only ``open`` and ``closed``; the finer steps go to status_notes."""
    return "closed" if status == RequestStatus.CLOSED else "open"


def nearest(
    latitude: float, longitude: float, places: list[tuple[int, float, float]]
) -> int | None:
    """The id of the place nearest to the point (equirectangular distance: a city is
    small enough), or None when there is none."""
    best: tuple[float, int] | None = None
    scale = math.cos(math.radians(latitude))
    for place_id, lat, lon in places:
        distance = (lat - latitude) ** 2 + ((lon - longitude) * scale) ** 2
        if best is None or distance < best[0]:
            best = (distance, place_id)
    return best[1] if best else None


REQUEST_ADDRESS_LENGTH = 500  # the column's


def request_address(building: str, given: str | None) -> str:
    """The published address of a request filed for an apartment: the building's, with
    the citizen's own address string (an entrance, a basement) kept after it."""
    given = (given or "").strip()
    if not given or given == building:
        return building
    return f"{building} ({given})"[:REQUEST_ADDRESS_LENGTH]


# --- Payment details and the bill's QR code (GOST R 56042-2014) -----------------------------

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_INN_10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_ACCOUNT_WEIGHTS = (7, 1, 3)


def _inn_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_is_valid(inn: str) -> bool:
    """A taxpayer number: 10 digits (an organisation) or 12 (a person, a sole trader)
    whose check digits match the Federal Tax Service's weights."""
    if not _DIGITS.fullmatch(inn):
        return False
    if len(inn) == 10:
        return _inn_digit(inn, _INN_10) == int(inn[9])
    if len(inn) == 12:
        return _inn_digit(inn, _INN_11) == int(inn[10]) and _inn_digit(inn, _INN_12) == int(inn[11])
    return False


def _account_key_ok(prefix: str, account: str) -> bool:
    """The Central Bank's control key: the 3 digits of the prefix and the 20 of the
    account, weighted 7, 1, 3 in turn, sum to a multiple of ten."""
    digits = prefix + account
    return sum(int(d) * _ACCOUNT_WEIGHTS[i % 3] for i, d in enumerate(digits)) % 10 == 0


def settlement_account_is_valid(account: str, bic: str) -> bool:
    """A settlement account (20 digits) held at the bank with ``bic``: its key is
    computed with the last three digits of the BIC."""
    return (
        len(account) == 20
        and bool(_DIGITS.fullmatch(account))
        and len(bic) == 9
        and bool(_DIGITS.fullmatch(bic))
        and _account_key_ok(bic[-3:], account)
    )


def correspondent_account_is_valid(account: str, bic: str) -> bool:
    """A bank's correspondent account (20 digits): its key is computed with "0" and the
    fifth and sixth digits of the BIC (the Bank of Russia's division)."""
    return (
        len(account) == 20
        and bool(_DIGITS.fullmatch(account))
        and len(bic) == 9
        and bool(_DIGITS.fullmatch(bic))
        and _account_key_ok("0" + bic[4:6], account)
    )


@dataclass(frozen=True)
class PayeeDetails:
    """Where a bill is paid: the operator's name and bank account."""

    name: str
    personal_account: str
    bank_name: str
    bic: str
    correspondent_account: str
    inn: str


def payee_problems(details: PayeeDetails) -> dict[str, str]:
    """The fields of payment details that no bank would accept, with the message id
    of each (empty when all are right)."""
    problems: dict[str, str] = {}
    if not details.name.strip():
        problems["name"] = N_("Enter the payee's name.")
    if not details.bank_name.strip():
        problems["bank_name"] = N_("Enter the bank's name.")
    bic_ok = len(details.bic) == 9 and bool(_DIGITS.fullmatch(details.bic))
    if not bic_ok:
        problems["bic"] = N_("A BIC is 9 digits.")
    if not (len(details.personal_account) == 20 and _DIGITS.fullmatch(details.personal_account)):
        problems["personal_account"] = N_("An account number is 20 digits.")
    elif bic_ok and not settlement_account_is_valid(details.personal_account, details.bic):
        problems["personal_account"] = N_("This account number does not match the BIC: check both.")
    if not (
        len(details.correspondent_account) == 20
        and _DIGITS.fullmatch(details.correspondent_account)
    ):
        problems["correspondent_account"] = N_("An account number is 20 digits.")
    elif bic_ok and not correspondent_account_is_valid(details.correspondent_account, details.bic):
        problems["correspondent_account"] = N_(
            "This account number does not match the BIC: check both."
        )
    if not inn_is_valid(details.inn):
        problems["inn"] = N_("A taxpayer number (INN) is 10 or 12 digits with a valid check digit.")
    return problems


# The standard's header: format ST, version 0001, encoding 2 (UTF-8); "|" separates.
QR_HEADER = "ST00012"
QR_SEPARATOR = "|"


def _qr_value(value: str) -> str:
    # The separator cannot be escaped in the standard, and line breaks confuse readers.
    return " ".join(value.replace(QR_SEPARATOR, " ").split())


def payment_qr_payload(
    payee: PayeeDetails, *, amount: Decimal, payer_code: str, period: date, purpose: str
) -> str:
    """The text of a bill's payment QR code in the GOST R 56042-2014 format: the payee's
    required details, then the sum in kopecks, the purpose, the payer's code and the
    month paid for (MMYYYY). A sum of zero is left out: the payer types one."""
    fields = [
        ("Name", payee.name),
        ("PersonalAcc", payee.personal_account),
        ("BankName", payee.bank_name),
        ("BIC", payee.bic),
        ("CorrespAcc", payee.correspondent_account),
        ("PayeeINN", payee.inn),
    ]
    kopecks = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if kopecks > 0:
        fields.append(("Sum", str(kopecks)))
    fields += [
        ("Purpose", purpose),
        ("PersAcc", payer_code),
        ("PaymPeriod", period.strftime("%m%Y")),
    ]
    return QR_SEPARATOR.join([QR_HEADER, *(f"{key}={_qr_value(value)}" for key, value in fields)])


# What housing records in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "housing.bank_details.set": N_("Set a housing operator's bank details"),
    "housing.request.update": N_("Changed a housing request"),
}
