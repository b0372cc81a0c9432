"""Use cases of housing and utilities: one function per thing a user does, one
transaction each.

Readings: one row per (meter, period), written by an upsert on that unique pair, so a
resubmission while the window is open replaces the earlier value and two submissions at
once cannot both insert. Every rule is checked before anything is written.

Bills: one per (apartment, period), inserted with ``ON CONFLICT DO NOTHING`` on that
unique pair, so running the generation twice (two workers, a retry) makes each bill once.

Service requests move forward only, each step a guarded ``UPDATE … WHERE status IN
(<the statuses it may follow>)`` checked by its row count, and each step notifies the
citizen who filed the request in the same transaction.

Clock: functions that depend on the date take ``now`` (UTC; default: the real clock);
windows and due dates are judged on the city's calendar (``INFOCITY_CITY_TIMEZONE``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Column,
    Date,
    Integer,
    Numeric,
    String,
    Table,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit, bulk, outbox
from infocity.core.auth import PERMISSIONS, SYSTEM, Action, Principal, allowed, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.errors import (
    AppError,
    Conflict,
    Forbidden,
    InvalidFields,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from infocity.core.i18n import N_
from infocity.core.ratelimit import hit
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.housing import rules
from infocity.housing.models import (
    Apartment,
    ApartmentLink,
    Bill,
    BillLine,
    Meter,
    MeterReading,
    OperatorBankDetails,
    Payment,
    ReadingReminder,
    RequestEvent,
    RequestPhoto,
    ServiceRequest,
    Tariff,
)
from infocity.housing.schemas import (
    ApartmentCreate,
    ApartmentLinkCreate,
    ApartmentOverviewRead,
    ApartmentRead,
    BankDetailsCreate,
    BankDetailsRead,
    BillFailureRead,
    BillLineRead,
    BillRead,
    BillRunRead,
    BillSummaryRead,
    MeterCreate,
    MeterRead,
    PaymentImportRead,
    PaymentRead,
    ReadingCreate,
    ReadingRead,
    ReadingsCreate,
    RequestDetailRead,
    RequestEventRead,
    RequestFilter,
    RequestPhotoFile,
    RequestPhotoRead,
    RequestRating,
    RequestReopen,
    ServiceRequestCreate,
    ServiceRequestRead,
    ServiceRequestUpdate,
    TariffCreate,
    TariffRead,
    WindowRead,
)

logger = logging.getLogger("infocity.housing")
READINGS = cast(Table, MeterReading.__table__)
APARTMENTS = cast(Table, Apartment.__table__)
PAYMENTS = cast(Table, Payment.__table__)
BILLS = cast(Table, Bill.__table__)
REQUESTS = cast(Table, ServiceRequest.__table__)
REQUESTS_PER_HOUR = 20  # per citizen: enough for real problems, not for a flood
OPEN311_DEFAULT_DAYS = 90  # GET requests without dates covers this many days (the spec's)


def _day(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def _require(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    return principal


def _authorize_city_wide(actor: Principal) -> None:
    """Billing the whole city or setting its tariffs: a city-wide grant, not an operator's."""
    roles = PERMISSIONS[Action.HOUSING_BILLING]
    if not actor.is_system and not any(
        g.role in roles and g.organisation_id is None for g in actor.grants
    ):
        raise Forbidden("forbidden", N_("You do not have access to this."))


def _apartment_not_found() -> NotFound:
    return NotFound("apartment_not_found", N_("There is no such apartment among yours."))


# --- Apartments ------------------------------------------------------------------------


def register_apartment(data: ApartmentCreate, *, uow: UnitOfWork | None = None) -> ApartmentRead:
    """Add an apartment to the housing register of its operator."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = Apartment(**data.model_dump())
        uow.session.add(apartment)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "apartment_exists",
                N_("An apartment with this payer code or address is already registered."),
            ) from exc
        result = ApartmentRead.model_validate(apartment)
        uow.commit()
        return result


def find_apartment(payer_code: str, *, uow: UnitOfWork | None = None) -> ApartmentRead | None:
    """The apartment with this payer code, if any."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.scalar(select(Apartment).where(Apartment.payer_code == payer_code))
        return ApartmentRead.model_validate(apartment) if apartment else None


def link_apartment(
    principal: Principal | None, data: ApartmentLinkCreate, *, uow: UnitOfWork | None = None
) -> ApartmentRead:
    """Link an apartment to the citizen's cabinet by the payer code and apartment number
    on its bill (several citizens may link one apartment)."""
    principal = authorize(principal, Action.HOUSING_OWN)
    # Counted before checking and whatever the outcome: payer codes are guessable, so the
    # number of tries, not only of failures, is what stops enumeration.
    hit(
        f"housing.link:{principal.user_id}",
        limit=get_settings().apartment_link_attempts_per_hour,
        window_seconds=3600,
    )
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.scalar(
            select(Apartment).where(Apartment.payer_code == data.payer_code)
        )
        if apartment is None or apartment.number.strip().casefold() != (
            data.number.strip().casefold()
        ):
            # One answer for an unknown code and a wrong number: nothing to enumerate.
            raise InvalidInput(
                "apartment_not_matched",
                N_(
                    "No apartment matches this payer code and apartment number. "
                    "Check both on your bill."
                ),
                field="payer_code",
            )
        uow.session.execute(
            upsert_insert(uow.session)(ApartmentLink)
            .values(apartment_id=apartment.id, user_id=principal.user_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["apartment_id", "user_id"])
        )
        result = ApartmentRead.model_validate(apartment)
        uow.commit()
        return result


def list_my_apartments(
    principal: Principal | None, *, uow: UnitOfWork | None = None
) -> list[ApartmentRead]:
    """The apartments linked to the citizen's cabinet."""
    principal = authorize(principal, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Apartment)
            .join(ApartmentLink, ApartmentLink.apartment_id == Apartment.id)
            .where(ApartmentLink.user_id == principal.user_id)
            .order_by(Apartment.address, Apartment.number)
        )
        return [ApartmentRead.model_validate(row) for row in rows]


def _visible_apartment(
    session: Session, principal: Principal | None, apartment_id: int
) -> Apartment:
    """The apartment if the citizen linked it, or if it is in the operator's care of a
    staff member who bills it; otherwise NotFound (the same answer as for no apartment)."""
    principal = _require(principal)
    apartment = session.get(Apartment, apartment_id)
    if apartment is None:
        raise _apartment_not_found()
    if principal.kind == "citizen":
        authorize(principal, Action.HOUSING_OWN)
        linked = session.scalar(
            select(ApartmentLink.id).where(
                ApartmentLink.apartment_id == apartment_id,
                ApartmentLink.user_id == principal.user_id,
            )
        )
        if linked is None:
            raise _apartment_not_found()
        return apartment
    authorize(principal, Action.HOUSING_BILLING, apartment.operator_id)
    return apartment


def _window(now: datetime) -> WindowRead:
    settings = get_settings()
    today = city_date(now)
    start, end = settings.readings_window_start_day, settings.readings_window_end_day
    current = rules.open_window(today, start, end)
    window = current or rules.next_open_window(today, start, end)
    return WindowRead(
        is_open=current is not None,
        period=window.period,
        first_day=window.first_day,
        last_day=window.last_day,
    )


def readings_window(*, now: datetime | None = None) -> WindowRead:
    """The readings window open now, or the next one to open."""
    return _window(now or utcnow())


def _debt(session: Session, apartment_id: int) -> Decimal:
    billed = session.scalar(
        select(func.coalesce(func.sum(Bill.total), 0)).where(Bill.apartment_id == apartment_id)
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.apartment_id == apartment_id
        )
    )
    return Decimal(billed or 0) - Decimal(paid or 0)


def get_apartment_overview(
    principal: Principal | None,
    apartment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApartmentOverviewRead:
    """An apartment's meters with their readings, the readings window, bills, payments and
    debt."""
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment = _visible_apartment(session, principal, apartment_id)
        meters = list(
            session.scalars(
                select(Meter).where(Meter.apartment_id == apartment.id).order_by(Meter.id)
            )
        )
        readings: dict[int, list[ReadingRead]] = {m.id: [] for m in meters}
        for reading in session.scalars(
            select(MeterReading)
            .where(MeterReading.apartment_id == apartment.id)
            .order_by(MeterReading.period)
        ):
            readings[reading.meter_id].append(ReadingRead.model_validate(reading))
        bills = session.scalars(
            select(Bill).where(Bill.apartment_id == apartment.id).order_by(Bill.period.desc())
        )
        payments = session.scalars(
            select(Payment)
            .where(Payment.apartment_id == apartment.id)
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
        )
        return ApartmentOverviewRead(
            apartment=ApartmentRead.model_validate(apartment),
            meters=[
                MeterRead.model_validate(meter).model_copy(
                    update={
                        "overdue": meter.verification_due < today,
                        "readings": readings[meter.id],
                    }
                )
                for meter in meters
            ],
            window=_window(now),
            bills=[BillSummaryRead.model_validate(b) for b in bills],
            payments=[PaymentRead.model_validate(p) for p in payments],
            debt=_debt(session, apartment.id),
        )


# --- Meters and readings -----------------------------------------------------------------


def register_meter(
    actor: Principal | None, data: MeterCreate, *, uow: UnitOfWork | None = None
) -> MeterRead:
    """Install a meter in an apartment (the apartment's operator; ``SYSTEM``: the command
    line or the demo)."""
    actor = authorize(actor, Action.HOUSING_BILLING)
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.get(Apartment, data.apartment_id)
        if apartment is None:
            raise NotFound("apartment_not_found", N_("There is no such apartment."))
        authorize(actor, Action.HOUSING_BILLING, apartment.operator_id)
        capacity = rules.meter_capacity(data.kind)
        if data.initial_value > capacity:
            raise InvalidInput(
                "reading_out_of_range",
                N_("This meter cannot show %(value)s: at most %(capacity)s. Check the number."),
                field="initial_value",
                value=rules.format_quantity(data.initial_value),
                capacity=rules.format_quantity(capacity),
            )
        meter = Meter(**data.model_dump())
        uow.session.add(meter)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "meter_exists",
                N_("A meter with this serial number is already registered."),
                field="serial",
            ) from exc
        result = MeterRead.model_validate(meter)
        uow.commit()
        return result


def submit_reading(
    principal: Principal | None,
    data: ReadingCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ReadingRead:
    """Submit a meter's reading for the month whose window is open.

    Refused outside the window, for a meter past its verification date and below the
    previous month's reading; a consumption above norm x residents x factor needs
    ``confirm``. Resubmitting in the same window replaces the month's reading.
    """
    principal = authorize(principal, Action.HOUSING_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        meter = session.get(Meter, data.meter_id)
        if meter is None:
            raise NotFound("meter_not_found", N_("There is no such meter among yours."))
        apartment = _visible_apartment(session, principal, meter.apartment_id)
        window = _open_window_or_refuse(now)
        _check_reading(session, apartment, meter, data, window, city_date(now))
        result = _save_reading(session, principal, meter, data.value, window, now)
        record_service_use(
            session, "meter_readings", principal.user_id, person_id=principal.person_id
        )
        uow.commit()
        return result


def submit_readings(
    principal: Principal | None,
    apartment_id: int,
    data: ReadingsCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[ReadingRead]:
    """Submit the readings of several meters of one apartment at once (one form).

    All or none: each reading is checked as ``submit_reading`` checks it, and if any is
    refused nothing is saved and ``InvalidFields`` names every refused one (field
    ``value-<meter id>``; a reading that needs confirming keeps its code
    ``reading_needs_confirmation``), so the citizen corrects them together."""
    principal = authorize(principal, Action.HOUSING_OWN)
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment = _visible_apartment(session, principal, apartment_id)
        window = _open_window_or_refuse(now)
        meters = {
            m.id: m
            for m in session.scalars(select(Meter).where(Meter.apartment_id == apartment.id))
        }
        errors: list[AppError] = []
        for reading in data.readings:
            meter = meters.get(reading.meter_id)
            try:
                if meter is None:
                    raise NotFound("meter_not_found", N_("There is no such meter among yours."))
                _check_reading(session, apartment, meter, reading, window, today)
            except AppError as exc:
                exc.field = f"value-{reading.meter_id}"
                errors.append(exc)
        if errors:
            raise InvalidFields(errors)
        results = [
            _save_reading(session, principal, meters[r.meter_id], r.value, window, now)
            for r in data.readings
        ]
        record_service_use(
            session, "meter_readings", principal.user_id, person_id=principal.person_id
        )
        uow.commit()
        return results


def _open_window_or_refuse(now: datetime) -> rules.Window:
    settings = get_settings()
    window = rules.open_window(
        city_date(now), settings.readings_window_start_day, settings.readings_window_end_day
    )
    if window is None:
        upcoming = _window(now)
        raise Conflict(
            "readings_window_closed",
            N_(
                "Readings are accepted from the %(first)s to the %(last)s of the next "
                "month. The next window opens on %(opens)s."
            ),
            first=settings.readings_window_start_day,
            last=settings.readings_window_end_day,
            opens=_day(upcoming.first_day),
        )
    return window


def _check_reading(
    session: Session,
    apartment: Apartment,
    meter: Meter,
    data: ReadingCreate,
    window: rules.Window,
    today: date,
) -> None:
    """Refuse a reading the meter cannot take (see ``submit_reading``)."""
    if meter.verification_due < today:
        raise Conflict(
            "meter_verification_overdue",
            N_(
                "Meter %(serial)s was due for verification on %(due)s, so its readings "
                "cannot be accepted. Have it verified and the housing operator will "
                "record the new date; until then the month is charged by the norm."
            ),
            serial=meter.serial,
            due=_day(meter.verification_due),
        )
    previous = session.scalar(
        select(MeterReading.value)
        .where(MeterReading.meter_id == meter.id, MeterReading.period < window.period)
        .order_by(MeterReading.period.desc())
        .limit(1)
    )
    rules.check_reading(
        data.value,
        meter.initial_value if previous is None else previous,
        limit=rules.consumption_limit(
            meter.kind, apartment.residents, get_settings().readings_confirm_factor
        ),
        confirmed=data.confirm,
        capacity=rules.meter_capacity(meter.kind),
    )


def _save_reading(
    session: Session,
    principal: Principal,
    meter: Meter,
    value: Decimal,
    window: rules.Window,
    now: datetime,
) -> ReadingRead:
    # One row per meter and month: a resubmission in the open window replaces it.
    row = session.execute(
        upsert_insert(session)(MeterReading)
        .values(
            meter_id=meter.id,
            apartment_id=meter.apartment_id,
            period=window.period,
            value=value,
            submitted_by_user_id=principal.user_id,
            submitted_at=now,
        )
        .on_conflict_do_update(
            index_elements=["meter_id", "period"],
            set_={"value": value, "submitted_by_user_id": principal.user_id, "submitted_at": now},
        )
        .returning(*READINGS.c)
    ).one()
    return ReadingRead.model_validate(row, from_attributes=True)


REMINDER_BATCH = 1000  # apartments reminded in one transaction


def send_reading_reminders(
    *, now: datetime | None = None, batch: int = REMINDER_BATCH, uow: UnitOfWork | None = None
) -> int:
    """Remind the citizens who linked an apartment with meters that the month's readings
    window is open (the periodic job): once per apartment and period, by the unique
    (apartment, period) of ``ReadingReminder``; an apartment whose readings for the
    period already came is left alone. Handles at most ``batch`` apartments and returns
    how many it reminded (0 outside the window)."""
    now = now or utcnow()
    settings = get_settings()
    window = rules.open_window(
        city_date(now), settings.readings_window_start_day, settings.readings_window_end_day
    )
    if window is None:
        return 0
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        due = list(
            session.scalars(
                select(Apartment.id)
                .where(
                    select(Meter.id).where(Meter.apartment_id == Apartment.id).exists(),
                    ~select(ReadingReminder.id)
                    .where(
                        ReadingReminder.apartment_id == Apartment.id,
                        ReadingReminder.period == window.period,
                    )
                    .exists(),
                    ~select(MeterReading.id)
                    .where(
                        MeterReading.apartment_id == Apartment.id,
                        MeterReading.period == window.period,
                    )
                    .exists(),
                )
                .order_by(Apartment.id)
                .limit(batch)
            )
        )
        if not due:
            return 0
        # Claimed by the insert: another worker's run at the same moment claims none twice.
        claimed = set(
            session.scalars(
                upsert_insert(session)(ReadingReminder)
                .values([{"apartment_id": a, "period": window.period, "sent_at": now} for a in due])
                .on_conflict_do_nothing(index_elements=["apartment_id", "period"])
                .returning(ReadingReminder.apartment_id)
            )
        )
        rows = session.execute(
            select(ApartmentLink.user_id, Apartment.id, Apartment.address, Apartment.number)
            .join(Apartment, Apartment.id == ApartmentLink.apartment_id)
            .where(Apartment.id.in_(claimed))
            .order_by(Apartment.id, ApartmentLink.user_id)
        )
        for user_id, apartment_id, address, number in rows:
            outbox.notify(
                session,
                accounts.recipient_for_user(session, user_id),
                kind="housing_reading_reminder",
                template="housing/messages/reading_reminder.txt",
                context={
                    "address": f"{address}, {number}",
                    "month": window.period.strftime("%m.%Y"),
                    "last_day": _day(window.last_day),
                },
                link=f"/housing/apartments/{apartment_id}",
            )
        uow.commit()
        return len(claimed)


# --- Tariffs and bills ---------------------------------------------------------------------


def set_tariff(
    actor: Principal | None, data: TariffCreate, *, uow: UnitOfWork | None = None
) -> TariffRead:
    """Set the price of a utility from a month on (city-wide billing staff; ``SYSTEM``)."""
    _authorize_city_wide(authorize(actor, Action.HOUSING_BILLING))  # the city's prices
    uow = uow or UnitOfWork()
    with uow:
        valid_from = rules.month_start(data.valid_from)
        uow.session.execute(
            upsert_insert(uow.session)(Tariff)
            .values(service=data.service, valid_from=valid_from, price=data.price)
            .on_conflict_do_update(
                index_elements=["service", "valid_from"], set_={"price": data.price}
            )
        )
        tariff = uow.session.scalars(
            select(Tariff).where(Tariff.service == data.service, Tariff.valid_from == valid_from)
        ).one()
        result = TariffRead.model_validate(tariff)
        uow.commit()
        return result


def _prices(session: Session, period: date) -> dict[str, Decimal]:
    prices = {}
    for service in rules.BILLED_SERVICES:
        price = session.scalar(
            select(Tariff.price)
            .where(Tariff.service == service, Tariff.valid_from <= period)
            .order_by(Tariff.valid_from.desc())
            .limit(1)
        )
        if price is None:
            raise InvalidInput(
                "tariff_missing",
                N_("There is no tariff for %(service)s in %(period)s."),
                service=service,
                period=period.strftime("%Y-%m"),
            )
        prices[service] = Decimal(price)
    return prices


def _metered(session: Session, apartment: Apartment, period: date) -> dict[str, Decimal | None]:
    """Consumption per meter kind in ``period``, or None where the month goes by norm
    (no meter of the kind, or a meter without this month's reading)."""
    meters = list(session.scalars(select(Meter).where(Meter.apartment_id == apartment.id)))
    readings: dict[int, list[MeterReading]] = {m.id: [] for m in meters}
    for reading in session.scalars(
        select(MeterReading)
        .where(MeterReading.apartment_id == apartment.id, MeterReading.period <= period)
        .order_by(MeterReading.period)
    ):
        readings[reading.meter_id].append(reading)
    result: dict[str, Decimal | None] = {}
    for kind in rules.METER_KINDS:
        of_kind = [m for m in meters if m.kind == kind]
        total: Decimal | None = Decimal(0) if of_kind else None
        since: date | None = None
        for meter in of_kind:
            history = readings[meter.id]
            if not history or history[-1].period != period or total is None:
                total = None
                break
            earlier = history[-2] if len(history) > 1 else None
            total += history[-1].value - (earlier.value if earlier else meter.initial_value)
            if earlier is not None:
                since = earlier.period if since is None else min(since, earlier.period)
        if total is not None and since is not None:
            # Months between two readings were charged by the norm; the reading now shows
            # what was really used over all of them, so what the norm charged is deducted.
            charged = session.scalar(
                select(func.coalesce(func.sum(BillLine.quantity), 0))
                .join(Bill, Bill.id == BillLine.bill_id)
                .where(
                    Bill.apartment_id == apartment.id,
                    Bill.period > since,
                    Bill.period < period,
                    BillLine.service == kind,
                    BillLine.basis == "norm",
                )
            )
            total = max(total - Decimal(charged or 0), Decimal(0))
        result[kind] = total
    return result


def generate_bills(
    actor: Principal | None,
    period: date,
    *,
    operator_id: int | None = None,
    uow: UnitOfWork | None = None,
) -> BillRunRead:
    """Make the month's bill of every apartment (of one operator, if given) that has none
    yet (``SYSTEM``: the periodic job). Idempotent by (apartment, period); an apartment
    that cannot be billed is listed in ``failed`` and the others are billed."""
    actor = authorize(actor, Action.HOUSING_BILLING, operator_id)
    if operator_id is None:
        _authorize_city_wide(actor)
    period = rules.month_start(period)
    created = present = 0
    failed: list[BillFailureRead] = []
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        prices = _prices(session, period)
        query = select(Apartment).order_by(Apartment.id)
        if operator_id is not None:
            query = query.where(Apartment.operator_id == operator_id)
        billed = set(session.scalars(select(Bill.apartment_id).where(Bill.period == period)))
        now = utcnow()
        apartments = [(a.id, a.operator_id) for a in session.scalars(query)]
        for apartment_id, apartment_operator in apartments:
            if apartment_id in billed:
                present += 1
                continue
            # Each apartment in a savepoint: one that cannot be billed (a reading no
            # meter shows, stored before readings were checked) is reported and left
            # unbilled, and every other apartment of the city still gets its bill.
            try:
                with session.begin_nested():
                    made = _bill_apartment(session, apartment_id, period, prices, now)
            except (rules.BillOutOfRange, DataError, IntegrityError) as exc:
                reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
                logger.warning("apartment %s not billed for %s: %s", apartment_id, period, reason)
                failed.append(
                    BillFailureRead(
                        apartment_id=apartment_id, operator_id=apartment_operator, reason=reason
                    )
                )
                continue
            if made:
                created += 1
            else:  # made meanwhile by another run
                present += 1
        uow.commit()
        return BillRunRead(period=period, created=created, already_present=present, failed=failed)


def _bill_apartment(
    session: Session, apartment_id: int, period: date, prices: dict[str, Decimal], now: datetime
) -> bool:
    """Insert one apartment's bill of ``period``; False when it already has one."""
    apartment = session.get_one(Apartment, apartment_id)
    lines = rules.bill_lines(_metered(session, apartment, period), apartment.residents, prices)
    bill_id = session.execute(
        upsert_insert(session)(Bill)
        .values(
            apartment_id=apartment.id,
            operator_id=apartment.operator_id,
            period=period,
            total=sum((line.amount for line in lines), Decimal(0)),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["apartment_id", "period"])
        .returning(BILLS.c.id)
    ).scalar_one_or_none()
    if bill_id is None:
        return False
    session.add_all(
        BillLine(
            bill_id=bill_id,
            service=line.service,
            basis=line.basis,
            quantity=line.quantity,
            price=line.price,
            amount=line.amount,
        )
        for line in lines
    )
    session.flush()
    return True


def generate_last_month_bills(*, now: datetime | None = None) -> BillRunRead:
    """Bills of the latest month whose readings window has closed (the periodic job)."""
    settings = get_settings()
    period = rules.last_closed_period(
        city_date(now or utcnow()),
        settings.readings_window_start_day,
        settings.readings_window_end_day,
    )
    return generate_bills(SYSTEM, period)


def get_bill(
    principal: Principal | None, bill_id: int, *, uow: UnitOfWork | None = None
) -> BillRead:
    """A bill with its lines and what is owed with it (the citizen's or the operator's)."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        bill = session.get(Bill, bill_id)
        if bill is None:
            _require(principal)
            raise NotFound("bill_not_found", N_("There is no such bill."))
        try:
            apartment = _visible_apartment(session, principal, bill.apartment_id)
        except NotFound as exc:
            raise NotFound("bill_not_found", N_("There is no such bill.")) from exc
        lines = session.scalars(
            select(BillLine).where(BillLine.bill_id == bill.id).order_by(BillLine.id)
        )
        earlier = session.scalar(
            select(func.coalesce(func.sum(Bill.total), 0)).where(
                Bill.apartment_id == apartment.id, Bill.period < bill.period
            )
        )
        paid = session.scalar(
            select(func.coalesce(func.sum(Payment.amount), 0)).where(
                Payment.apartment_id == apartment.id,
                Payment.paid_on <= city_date(bill.created_at),
            )
        )
        debt_before = Decimal(earlier or 0) - Decimal(paid or 0)
        operator = city.get_organisation(bill.operator_id, uow=uow)
        to_pay = max(bill.total + debt_before, Decimal(0))
        details = session.get(OperatorBankDetails, bill.operator_id)
        payee = BankDetailsRead.model_validate(details) if details else None
        return BillRead(
            id=bill.id,
            apartment=ApartmentRead.model_validate(apartment),
            operator_name=operator.name,
            period=bill.period,
            total=bill.total,
            created_at=bill.created_at,
            lines=[BillLineRead.model_validate(line) for line in lines],
            debt_before=debt_before,
            to_pay=to_pay,
            payee=payee,
            payment_qr=_payment_qr(payee, to_pay, apartment.payer_code, bill.period),
        )


def _payment_qr(
    payee: BankDetailsRead | None, amount: Decimal, payer_code: str, period: date
) -> str | None:
    if payee is None:
        return None
    return rules.payment_qr_payload(
        rules.PayeeDetails(
            name=payee.name,
            personal_account=payee.personal_account,
            bank_name=payee.bank_name,
            bic=payee.bic,
            correspondent_account=payee.correspondent_account,
            inn=payee.inn,
        ),
        amount=amount,
        payer_code=payer_code,
        period=period,
        # Read by the bank, whoever looks at the bill: always in Russian.
        purpose=f"Оплата ЖКУ за {period:%m.%Y}, лицевой счёт {payer_code}",
    )


# --- Operators' bank details -----------------------------------------------------------------


def my_operator_id(actor: Principal | None) -> int:
    """The housing operator a staff member bills for (their organisation's grant)."""
    actor = authorize(actor, Action.HOUSING_BILLING)
    roles = PERMISSIONS[Action.HOUSING_BILLING]
    scoped = sorted(
        {g.organisation_id for g in actor.grants if g.role in roles and g.organisation_id}
    )
    if not scoped:
        # City-wide staff choose no operator here: the command line names one.
        raise Forbidden("forbidden", N_("You do not have access to this."))
    return scoped[0]


def get_operator_bank_details(
    actor: Principal | None, organisation_id: int, *, uow: UnitOfWork | None = None
) -> BankDetailsRead | None:
    """The bank account an operator's bills are paid to, if it gave one (its staff)."""
    authorize(actor, Action.HOUSING_BILLING, organisation_id)
    uow = uow or UnitOfWork()
    with uow:
        details = uow.session.get(OperatorBankDetails, organisation_id)
        return BankDetailsRead.model_validate(details) if details else None


def set_operator_bank_details(
    actor: Principal | None,
    organisation_id: int,
    data: BankDetailsCreate,
    *,
    uow: UnitOfWork | None = None,
) -> BankDetailsRead:
    """Set the bank account a housing operator's bills are paid to (its billing staff;
    ``SYSTEM``: the command line or the demo). Every wrong field is reported at once
    (the account numbers are checked against the BIC by the Central Bank's key)."""
    actor = authorize(actor, Action.HOUSING_BILLING, organisation_id)
    problems = rules.payee_problems(rules.PayeeDetails(**data.model_dump()))
    if problems:
        raise InvalidFields(
            [
                InvalidInput("invalid_bank_details", message, field=field)
                for field, message in problems.items()
            ]
        )
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.get_organisation(organisation_id, uow=uow)
        if organisation.kind != "housing_operator":
            raise NotFound("operator_not_found", N_("There is no such housing operator."))
        values = {**data.model_dump(), "updated_at": utcnow()}
        uow.session.execute(
            upsert_insert(uow.session)(OperatorBankDetails)
            .values(organisation_id=organisation_id, **values)
            .on_conflict_do_update(index_elements=["organisation_id"], set_=values)
        )
        result = BankDetailsRead.model_validate(
            uow.session.get_one(OperatorBankDetails, organisation_id, populate_existing=True)
        )
        audit.record(
            uow.session,
            actor,
            "housing.bank_details.set",
            organisation_id=organisation_id,
            detail=f"account {data.personal_account}, BIC {data.bic}",
        )
        uow.commit()
        return result


# --- Payments -------------------------------------------------------------------------------


class PaymentFileRefused(InvalidInput):
    """A payment file with bad rows: nothing of it was imported; ``rows`` says why."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__(
            "payment_file_refused",
            N_("The file was not imported: %(count)s rows have errors."),
            count=len(rows),
        )
        self.rows = rows  # (line number, English message id)


def import_payments(
    actor: Principal | None,
    data: str | bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PaymentImportRead:
    """Import a bank's payment file (CSV: payment_id, payer_code, amount, paid_on; UTF-8
    or Windows-1251 when given as bytes).

    All or nothing: any bad row refuses the whole file with every bad row's line number.
    Idempotent by payment id: a payment already imported with the same data is skipped
    (``SYSTEM``: the command line; an operator may import only its apartments').
    The rows are checked and merged as a set in a staging table, so a file of a million
    rows takes a few statements, not a million.
    """
    actor = authorize(actor, Action.HOUSING_BILLING)
    now = now or utcnow()
    try:
        text = rules.decode_payment_file(data) if isinstance(data, bytes) else data
    except ValueError as exc:
        raise PaymentFileRefused([(1, str(exc))]) from exc
    rows, errors = rules.parse_payments(text, today=city_date(now))
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        staged = bulk.staging_table(
            session,
            "payment_import",
            Column("line", Integer, primary_key=True),
            Column("external_id", String(rules.MAX_PAYMENT_ID), nullable=False),
            Column("payer_code", String(10), nullable=False),
            Column("amount", Numeric(12, 2), nullable=False),
            Column("paid_on", Date, nullable=False),
        )
        bulk.load_rows(
            session,
            staged,
            ((r.line, r.external_id, r.payer_code, r.amount, r.paid_on) for r in rows),
        )
        errors += _payment_problems(session, actor, staged)
        if errors:
            raise PaymentFileRefused(sorted(errors))
        already = session.scalar(
            select(func.count())
            .select_from(staged)
            .join(PAYMENTS, PAYMENTS.c.external_id == staged.c.external_id)
        )
        new = select(
            staged.c.external_id,
            APARTMENTS.c.id,
            staged.c.amount,
            staged.c.paid_on,
            literal(now, PAYMENTS.c.imported_at.type),
        ).join(APARTMENTS, APARTMENTS.c.payer_code == staged.c.payer_code)
        already = int(already or 0)
        # A file imported before (a retry) has nothing new: no need to try every row.
        imported = (
            0
            if already == len(rows)
            else dml(
                session,
                upsert_insert(session)(PAYMENTS)
                .from_select(
                    ["external_id", "apartment_id", "amount", "paid_on", "imported_at"], new
                )
                # Payments imported before (the same data: checked above) are skipped by
                # the unique key, as are those a concurrent import of the file has just
                # written. No NOT EXISTS here: PostgreSQL would scan the rows being inserted.
                .on_conflict_do_nothing(index_elements=["external_id"])
                # SQLAlchemy keeps the row count of an INSERT only when asked to.
                .execution_options(preserve_rowcount=True),
            ).rowcount
        )
        bulk.drop_staging(session, staged)
        uow.commit()
        return PaymentImportRead(imported=imported, already_imported=already)


def _payment_problems(session: Session, actor: Principal, staged: Table) -> list[tuple[int, str]]:
    """Rows of a staged payment file that name no apartment (of the actor's) or a
    payment imported before with other data."""
    problems = [
        (line, f"no apartment has payer code {code}")
        for line, code in session.execute(
            select(staged.c.line, staged.c.payer_code)
            .outerjoin(APARTMENTS, APARTMENTS.c.payer_code == staged.c.payer_code)
            .where(APARTMENTS.c.id.is_(None))
        )
    ]
    if not actor.is_system:
        operators = session.scalars(
            select(APARTMENTS.c.operator_id)
            .join(staged, staged.c.payer_code == APARTMENTS.c.payer_code)
            .distinct()
        )
        # An operator's apartments are its own: others' look like unknown codes to it.
        foreign = [o for o in operators if not allowed(actor, Action.HOUSING_BILLING, o)]
        if foreign:
            problems += [
                (line, f"no apartment has payer code {code}")
                for line, code in session.execute(
                    select(staged.c.line, staged.c.payer_code)
                    .join(APARTMENTS, APARTMENTS.c.payer_code == staged.c.payer_code)
                    .where(APARTMENTS.c.operator_id.in_(foreign))
                )
            ]
    problems += [
        (line, f"payment {external_id} was imported with other data")
        for line, external_id in session.execute(
            select(staged.c.line, staged.c.external_id)
            .join(PAYMENTS, PAYMENTS.c.external_id == staged.c.external_id)
            .join(APARTMENTS, APARTMENTS.c.payer_code == staged.c.payer_code)
            .where(
                or_(
                    PAYMENTS.c.apartment_id != APARTMENTS.c.id,
                    PAYMENTS.c.amount != staged.c.amount,
                    PAYMENTS.c.paid_on != staged.c.paid_on,
                )
            )
        )
    ]
    return problems


# --- Service requests (Open311) ------------------------------------------------------------------


def housing_services() -> Sequence[rules.HousingService]:
    """The kinds of problems citizens can report (Open311 services)."""
    return rules.SERVICES


def housing_service(code: str) -> rules.HousingService:
    """One kind of problem by its code, or NotFound."""
    service = rules.SERVICES_BY_CODE.get(code)
    if service is None:
        raise NotFound(
            "service_not_found",
            N_("There is no service with code %(service_code)s."),
            service_code=code[:40],
        )
    return service


def request_status_label(status: str) -> str:
    """The English message id of a request status, for pages and the API."""
    return rules.STATUS_LABELS[status]


def open311_status(status: str) -> str:
    """The Open311 status (open or closed) of a request status."""
    return rules.open311_status(status)


def operator_names(operator_ids: set[int], *, uow: UnitOfWork | None = None) -> dict[int, str]:
    """Names of housing operators by id (the "agency responsible" of requests)."""
    if not operator_ids:
        return {}
    return {
        o.id: o.name
        for o in city.list_organisations("housing_operator", uow=uow)
        if o.id in operator_ids
    }


def _step_request(
    session: Session, request_id: int, status: str, values: dict[str, Any]
) -> ServiceRequestRead:
    """Move a request to ``status`` only from the statuses that step may follow (the guard
    closes the race of two people acting on it at once); refuse if it has moved on."""
    row = dml(
        session,
        update(REQUESTS)
        .where(REQUESTS.c.id == request_id, REQUESTS.c.status.in_(rules.REQUEST_STEPS[status]))
        .values(**values)
        .returning(*REQUESTS.c),
    ).one_or_none()
    if row is None:
        raise Conflict(
            "request_status_conflict",
            N_("This request has already moved past this step. Reload the page."),
        )
    return _request_read(row)


def _request_read(row: Any, apartment_number: str | None = None) -> ServiceRequestRead:
    result = ServiceRequestRead.model_validate(row, from_attributes=True)
    return result.model_copy(update={"apartment_number": apartment_number})


def file_request(
    principal: Principal | None,
    data: ServiceRequestCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """File a housing service request; it goes to the operator of the apartment, or of
    the nearest housing operator when only a point is given."""
    principal = authorize(principal, Action.HOUSING_OWN)
    if data.service_code not in rules.SERVICES_BY_CODE:
        raise InvalidInput(
            "service_not_found",
            N_("There is no service with code %(service_code)s."),
            field="service_code",
            service_code=data.service_code,
        )
    now = now or utcnow()
    hit(f"housing.request:{principal.user_id}", limit=REQUESTS_PER_HOUR, window_seconds=3600)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment: Apartment | None = None
        address: str | None
        if data.apartment_id is not None:
            apartment = _visible_apartment(session, principal, data.apartment_id)
        elif data.latitude is None or data.longitude is None:
            linked = list(
                session.scalars(
                    select(Apartment)
                    .join(ApartmentLink, ApartmentLink.apartment_id == Apartment.id)
                    .where(ApartmentLink.user_id == principal.user_id)
                    .limit(2)
                )
            )
            if len(linked) != 1:
                raise InvalidInput(
                    "location_required",
                    N_("Choose your apartment or give the location of the problem."),
                    field="apartment_id",
                )
            apartment = linked[0]
        if apartment is not None:
            operator_id = apartment.operator_id
            # The building (the number is not published), and where in it, in the
            # citizen's own words when given.
            address = rules.request_address(apartment.address, data.address)
        else:
            assert data.latitude is not None
            assert data.longitude is not None
            operators = [
                (o.id, o.latitude, o.longitude)
                for o in city.list_organisations("housing_operator", uow=uow)
                if o.latitude is not None and o.longitude is not None
            ]
            found = rules.nearest(data.latitude, data.longitude, operators)
            if found is None:
                raise InvalidInput(
                    "no_operator", N_("No housing operator serves this place."), field="lat"
                )
            operator_id, address = found, data.address
        request = ServiceRequest(
            service_code=data.service_code,
            operator_id=operator_id,
            apartment_id=apartment.id if apartment else None,
            user_id=principal.user_id,
            status="open",
            description=data.description.strip(),
            address=address,
            latitude=data.latitude,
            longitude=data.longitude,
            created_at=now,
            updated_at=now,
        )
        session.add(request)
        session.flush()
        session.add(
            RequestEvent(
                request_id=request.id,
                kind="filed",
                status="open",
                by_user_id=principal.user_id,
                at=now,
            )
        )
        result = _request_read(request)
        _notify_request(session, result)
        outbox.publish_event(
            session,
            "housing_request.created",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=operator_id,
        )
        record_service_use(
            session, "housing_problem_report", principal.user_id, person_id=principal.person_id
        )
        uow.commit()
        return result


def _notify_request(session: Session, request: ServiceRequestRead) -> None:
    outbox.notify(
        session,
        accounts.recipient_for_user(session, request.user_id),
        kind="housing_request_status",
        template="housing/messages/request_status.txt",
        context={
            "number": request.id,
            "service_name": rules.SERVICES_BY_CODE[request.service_code].name,
            "status_label": rules.STATUS_LABELS[request.status],
            "note": request.status_notes,
        },
        link=f"/housing/requests/{request.id}",
    )


def get_request(request_id: int, *, uow: UnitOfWork | None = None) -> ServiceRequestRead:
    """One service request (public in Open311: no filer's identity is in it)."""
    uow = uow or UnitOfWork()
    with uow:
        request = uow.session.get(ServiceRequest, request_id)
        if request is None:
            raise NotFound("request_not_found", N_("There is no such service request."))
        return _request_read(request)


def list_requests(
    filters: RequestFilter, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """Service requests by the Open311 filters, newest first; without ids or dates the
    last 90 days."""
    now = now or utcnow()
    query = select(ServiceRequest)
    if filters.ids:
        # The specification: service_request_id overrides every other parameter.
        query = query.where(ServiceRequest.id.in_(filters.ids))
        filters = RequestFilter(ids=filters.ids, limit=filters.limit)
    else:
        start, end = filters.start, filters.end
        window = timedelta(days=OPEN311_DEFAULT_DAYS)
        if start is None:
            # end_date alone: the 90 days before it (the specification's widest range).
            start = (end or now) - window
        if end is not None:
            if end < start:
                raise InvalidInput(
                    "date_range_reversed",
                    N_("end_date must not be before start_date."),
                    field="end_date",
                )
            if end - start > window:
                raise InvalidInput(
                    "date_range_too_long",
                    N_("A date range may span at most %(days)s days."),
                    field="end_date",
                    days=OPEN311_DEFAULT_DAYS,
                )
            query = query.where(ServiceRequest.created_at <= end)
        query = query.where(ServiceRequest.created_at >= start)
    if filters.service_codes:
        query = query.where(ServiceRequest.service_code.in_(filters.service_codes))
    if filters.statuses:
        wanted = set(filters.statuses)
        if wanted == {"closed"}:
            query = query.where(ServiceRequest.status == "closed")
        elif wanted == {"open"}:
            query = query.where(ServiceRequest.status != "closed")
    query = query.order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc()).limit(
        filters.limit
    )
    uow = uow or UnitOfWork()
    with uow:
        return [_request_read(row) for row in uow.session.scalars(query)]


def list_my_requests(
    principal: Principal | None, *, uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """The citizen's own service requests, newest first."""
    principal = authorize(principal, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(ServiceRequest, Apartment.number)
            .outerjoin(Apartment, Apartment.id == ServiceRequest.apartment_id)
            .where(ServiceRequest.user_id == principal.user_id)
            .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        )
        return [_request_read(row, number) for row, number in rows]


def list_request_queue(
    actor: Principal | None, *, show: str = "active", uow: UnitOfWork | None = None
) -> list[ServiceRequestRead]:
    """The requests of the operators the staff member processes for (``show``: active,
    closed or all), oldest first."""
    actor = authorize(actor, Action.HOUSING_REQUESTS_PROCESS)
    roles = PERMISSIONS[Action.HOUSING_REQUESTS_PROCESS]
    scopes = {g.organisation_id for g in actor.grants if g.role in roles}
    query = select(ServiceRequest, Apartment.number).outerjoin(
        Apartment, Apartment.id == ServiceRequest.apartment_id
    )
    if None not in scopes:
        query = query.where(ServiceRequest.operator_id.in_([s for s in scopes if s is not None]))
    if show == "active":
        query = query.where(ServiceRequest.status != "closed")
    elif show == "closed":
        query = query.where(ServiceRequest.status == "closed")
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(query.order_by(ServiceRequest.created_at, ServiceRequest.id))
        return [_request_read(row, number) for row, number in rows]


def update_request_status(
    actor: Principal | None,
    request_id: int,
    data: ServiceRequestUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Move a service request forward (acknowledged, in progress, closed with a note);
    the citizen who filed it is told."""
    actor = authorize(actor, Action.HOUSING_REQUESTS_PROCESS)
    now = now or utcnow()
    note = (data.note or "").strip() or None
    if data.status == "closed" and note is None:
        raise InvalidInput(
            "note_required", N_("Say what was done before closing the request."), field="note"
        )
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = session.get(ServiceRequest, request_id)
        if request is None:
            raise NotFound("request_not_found", N_("There is no such service request."))
        authorize(actor, Action.HOUSING_REQUESTS_PROCESS, request.operator_id)
        values: dict[str, Any] = {"status": data.status, "updated_at": now}
        if note is not None:
            values["status_notes"] = note
        if data.status == "closed":
            values["closed_at"] = now  # the reopening period runs from here
        # Guarded: a step is taken only from the statuses it may follow, so two operators
        # acting on the same request at once cannot both move it.
        result = _step_request(session, request_id, data.status, values)
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="status",
                status=result.status,
                note=note,
                by_user_id=actor.acting_user_id,
                at=now,
            )
        )
        audit.record(
            session,
            actor,
            "housing.request.update",
            organisation_id=result.operator_id,
            detail=f"request {result.id}: {result.status}",
        )
        _notify_request(session, result)
        outbox.publish_event(
            session,
            "housing_request.status_changed",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=result.operator_id,
        )
        uow.commit()
        return result


def _request_not_found() -> NotFound:
    return NotFound("request_not_found", N_("There is no such service request."))


def _own_or_processed(
    session: Session, principal: Principal | None, request_id: int
) -> tuple[ServiceRequest, bool]:
    """The request and whether ``principal`` filed it; staff who process its operator's
    requests see it too; anyone else gets NotFound (the same as for no request)."""
    principal = _require(principal)
    request = session.get(ServiceRequest, request_id)
    if request is None:
        raise _request_not_found()
    if principal.kind == "citizen":
        if request.user_id != principal.user_id:
            raise _request_not_found()
        return request, True
    if not allowed(principal, Action.HOUSING_REQUESTS_PROCESS, request.operator_id):
        raise _request_not_found()
    return request, False


def _filed_by(session: Session, principal: Principal | None, request_id: int) -> ServiceRequest:
    """The request for a step only its filer takes (reopen, photo, rating)."""
    principal = authorize(principal, Action.HOUSING_OWN)
    request, is_filer = _own_or_processed(session, principal, request_id)
    if not is_filer:
        raise Forbidden("forbidden", N_("Only the citizen who filed the request can do this."))
    return request


def get_request_detail(
    principal: Principal | None,
    request_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RequestDetailRead:
    """A request with its history and photos, for the citizen who filed it or the staff
    who process it, and what the citizen may do with it now."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request, is_filer = _own_or_processed(session, principal, request_id)
        number = (
            session.scalar(select(Apartment.number).where(Apartment.id == request.apartment_id))
            if request.apartment_id
            else None
        )
        history = [
            RequestEventRead.model_validate(event).model_copy(
                update={"by_citizen": event.by_user_id == request.user_id}
            )
            for event in session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == request.id)
                .order_by(RequestEvent.at, RequestEvent.id)
            )
        ]
        if not history or history[0].kind != "filed":
            # Filed before the history was kept: its filing is known all the same.
            history.insert(
                0,
                RequestEventRead(
                    kind="filed", status="open", note=None, at=request.created_at, by_citizen=True
                ),
            )
        photos = [
            RequestPhotoRead.model_validate(photo)
            for photo in session.scalars(
                select(RequestPhoto)
                .where(RequestPhoto.request_id == request.id)
                .order_by(RequestPhoto.id)
            )
        ]
        return RequestDetailRead(
            request=_request_read(request, number),
            history=history,
            photos=photos,
            rating=request.rating,
            is_filer=is_filer,
            can_reopen=is_filer and rules.can_reopen(request.status, request.closed_at, now),
            can_rate=is_filer and rules.can_rate(request.status, request.rating),
            can_add_photo=is_filer
            and request.status != "closed"
            and len(photos) < rules.MAX_PHOTOS,
        )


def add_request_photo(
    principal: Principal | None,
    request_id: int,
    filename: str,
    data: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RequestPhotoRead:
    """Add a photo (JPEG or PNG, checked by its bytes, at most 5 MB, 5 a request) to the
    citizen's own request while it is not closed."""
    principal = authorize(principal, Action.HOUSING_OWN)
    name, content_type = rules.check_photo(filename, data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, principal, request_id)
        if request.status == "closed":
            raise Conflict(
                "request_closed",
                N_("This request is closed. Reopen it to add photos."),
                field="file",
            )
        count = session.scalar(
            select(func.count())
            .select_from(RequestPhoto)
            .where(RequestPhoto.request_id == request.id)
        )
        if int(count or 0) >= rules.MAX_PHOTOS:
            raise InvalidInput(
                "too_many_photos",
                N_("A request can have at most %(limit)s photos."),
                field="file",
                limit=rules.MAX_PHOTOS,
            )
        photo = RequestPhoto(
            request_id=request.id,
            filename=name,
            content_type=content_type,
            size=len(data),
            data=data,
            uploaded_by_user_id=request.user_id,
            created_at=now,
        )
        session.add(photo)
        session.add(
            RequestEvent(
                request_id=request.id,
                kind="photo",
                status=request.status,
                note=name,
                by_user_id=request.user_id,
                at=now,
            )
        )
        session.flush()
        result = RequestPhotoRead.model_validate(photo)
        uow.commit()
        return result


def get_request_photo(
    principal: Principal | None, request_id: int, photo_id: int, *, uow: UnitOfWork | None = None
) -> RequestPhotoFile:
    """A photo's bytes, for the filer or the staff who process the request."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request, _ = _own_or_processed(session, principal, request_id)
        photo = session.get(RequestPhoto, photo_id)
        if photo is None or photo.request_id != request.id:
            raise NotFound("photo_not_found", N_("There is no such photo."))
        return RequestPhotoFile(
            filename=photo.filename, content_type=photo.content_type, data=photo.data
        )


def reopen_request(
    principal: Principal | None,
    request_id: int,
    data: RequestReopen,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Reopen the citizen's own request closed without a fix, within 30 days of its
    closing, saying what is still wrong; it goes back to the operator's queue."""
    principal = authorize(principal, Action.HOUSING_OWN)
    now = now or utcnow()
    reason = data.reason.strip()
    if not reason:
        raise InvalidInput(
            "reason_required", N_("Say what is still wrong before reopening."), field="reason"
        )
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, principal, request_id)
        if not rules.can_reopen(request.status, request.closed_at, now):
            raise Conflict(
                "request_not_reopenable",
                N_(
                    "Only a request closed within the last %(days)s days can be reopened. "
                    "Report the problem again."
                ),
                days=rules.REOPEN_DAYS,
            )
        # Guarded like the operator's steps: a double submit reopens once.
        result = _step_request(
            session, request.id, "open", {"status": "open", "updated_at": now, "closed_at": None}
        )
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="reopened",
                status="open",
                note=reason,
                by_user_id=result.user_id,
                at=now,
            )
        )
        outbox.publish_event(
            session,
            "housing_request.status_changed",
            {"id": result.id, "service_code": result.service_code, "status": result.status},
            organisation_id=result.operator_id,
        )
        uow.commit()
        return result


def rate_request(
    principal: Principal | None,
    request_id: int,
    data: RequestRating,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ServiceRequestRead:
    """Rate the outcome of the citizen's own closed request, 1 to 5, once."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        request = _filed_by(session, principal, request_id)
        row = dml(
            session,
            update(REQUESTS)
            .where(
                REQUESTS.c.id == request.id,
                REQUESTS.c.status == "closed",
                REQUESTS.c.rating.is_(None),
            )
            .values(rating=data.rating, rated_at=now)
            .returning(*REQUESTS.c),
        ).one_or_none()
        if row is None:
            raise Conflict(
                "request_not_ratable",
                N_("A request can be rated once, after it is closed."),
                field="rating",
            )
        result = _request_read(row)
        session.add(
            RequestEvent(
                request_id=result.id,
                kind="rated",
                status=result.status,
                note=str(data.rating),
                by_user_id=result.user_id,
                at=now,
            )
        )
        uow.commit()
        return result


# --- The portal's "utility information" application ---------------------------------------------

STATEMENT_BILLS = 6  # the statement lists this many latest bills


def apartment_for_applicant(
    principal: Principal | None, apartment_id: int, *, uow: UnitOfWork | None = None
) -> ApartmentRead:
    """One of the citizen's linked apartments (the portal routes an application by it)."""
    principal = authorize(principal, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        return ApartmentRead.model_validate(
            _visible_apartment(uow.session, principal, apartment_id)
        )


def issue_charges_statement(
    apartment_id: int, *, user_id: int, uow: UnitOfWork | None = None
) -> None:
    """Send the user a statement of the apartment's latest bills, payments and debt (the
    approval of a "utility information" application; the portal has authorized it)."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment = session.get(Apartment, apartment_id)
        if apartment is None:
            raise _apartment_not_found()
        bills = list(
            session.scalars(
                select(Bill)
                .where(Bill.apartment_id == apartment.id)
                .order_by(Bill.period.desc())
                .limit(STATEMENT_BILLS)
            )
        )
        payments = list(
            session.scalars(
                select(Payment)
                .where(Payment.apartment_id == apartment.id)
                .order_by(Payment.paid_on.desc())
                .limit(STATEMENT_BILLS)
            )
        )
        outbox.notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind="housing_charges_statement",
            template="housing/messages/charges_statement.txt",
            context={
                "address": f"{apartment.address}, {apartment.number}",
                "payer_code": apartment.payer_code,
                "bills": [(b.period.strftime("%m.%Y"), f"{b.total:.2f}") for b in bills],
                "payments": [(p.paid_on.strftime("%d.%m.%Y"), f"{p.amount:.2f}") for p in payments],
                "debt": f"{_debt(session, apartment.id):.2f}",
            },
            link=f"/housing/apartments/{apartment.id}",
        )
        uow.commit()
