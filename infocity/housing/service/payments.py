"""Operators' bank details (printed on bills) and banks' payment files."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Date, Integer, Numeric, String, Table, func, literal, or_, select
from sqlalchemy.orm import Session

from infocity.city import service as city
from infocity.core import audit, bulk
from infocity.core.auth import PERMISSIONS, Action, Principal, allowed, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.errors import InvalidFields
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.housing import errors, rules
from infocity.housing.models import OperatorBankDetails
from infocity.housing.schemas import BankDetailsCreate, BankDetailsRead, PaymentImportRead
from infocity.housing.service.base import APARTMENTS, PAYMENTS

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
        raise errors.NoAccess()
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
            [errors.InvalidBankDetails(message, field=field) for field, message in problems.items()]
        )
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.get_organisation(organisation_id, uow=uow)
        if organisation.kind != "housing_operator":
            raise errors.OperatorNotFound()
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
        raise errors.PaymentFileRefused([(1, str(exc))]) from exc
    rows, bad_rows = rules.parse_payments(text, today=city_date(now))
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
        bad_rows += _payment_problems(session, actor, staged)
        if bad_rows:
            raise errors.PaymentFileRefused(sorted(bad_rows))
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
