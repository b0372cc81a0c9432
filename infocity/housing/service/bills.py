"""Tariffs and bills: one bill per (apartment, period), inserted with ``ON CONFLICT DO
NOTHING`` on that unique pair, so running the generation twice (two workers, a retry)
makes each bill once; and the statement of charges the portal's application sends."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import outbox
from infocity.core.auth import SYSTEM, Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.i18n import format_month
from infocity.core.settings import get_settings
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.housing import errors, rules
from infocity.housing.models import (
    Apartment,
    Bill,
    BillLine,
    Meter,
    MeterReading,
    OperatorBankDetails,
    Payment,
    Tariff,
)
from infocity.housing.schemas import (
    ApartmentRead,
    BankDetailsRead,
    BillFailureRead,
    BillLineRead,
    BillRead,
    BillRunRead,
    TariffCreate,
    TariffRead,
)
from infocity.housing.service.base import (
    BILLS,
    _authorize_city_wide,
    _debt,
    _logged_in,
    _visible_apartment,
    logger,
)

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
            raise errors.TariffMissing(service=service, period=format_month(period))
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


def get_bill(actor: Principal | None, bill_id: int, *, uow: UnitOfWork | None = None) -> BillRead:
    """A bill with its lines and what is owed with it (the citizen's or the operator's)."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        bill = session.get(Bill, bill_id)
        if bill is None:
            _logged_in(actor)
            raise errors.BillNotFound()
        try:
            apartment = _visible_apartment(session, actor, bill.apartment_id)
        except errors.ApartmentNotFound as exc:
            raise errors.BillNotFound() from exc
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


# --- The portal's "utility information" application ---------------------------------------------

STATEMENT_BILLS = 6  # the statement lists this many latest bills


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
            raise errors.ApartmentNotFound()
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
                # Written in the recipient's language by the template's filters.
                "bills": [(b.period, b.total) for b in bills],
                "payments": [(p.paid_on, p.amount) for p in payments],
                "debt": _debt(session, apartment.id),
            },
            link=f"/housing/apartments/{apartment.id}",
        )
        uow.commit()
