"""Tables of the shared core: outbox, inbox, webhooks, periodic jobs, rate limits,
audit log and web sessions."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMessage(Base):
    """One message to one recipient on one channel, written in the transaction that
    caused it and delivered by the worker after commit. Its row is the record of
    what was sent, when, and every failed attempt."""

    __tablename__ = "outbox_messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex, the message id
    kind: Mapped[str] = mapped_column(String(64))  # message type, e.g. "password_reset"
    channel: Mapped[str] = mapped_column(String(16))  # inbox | email | webhook | sms
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    webhook_endpoint_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_endpoints.id"))
    address: Mapped[str | None] = mapped_column(String(2048))  # e-mail, phone or URL
    locale: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # Set when the link is a secret (a password reset, a verification): the message is not
    # sent after this time, and the link is wiped from the row once delivered or expired.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SMS only: the gateway's latest delivery report (infocity.core.sms.Report), when the
    # network made it, and the operator's SMSC's own words.
    report: Mapped[str | None] = mapped_column(String(16))
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_detail: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


class InboxMessage(Base):
    """A notification in the citizen's cabinet. One per outbox message at most: the
    unique ``outbox_id`` makes a repeated delivery a no-op."""

    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    outbox_id: Mapped[str] = mapped_column(ForeignKey("outbox_messages.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DemoMail(Base):
    """An e-mail or SMS kept for the demo mailbox page instead of being sent
    (``INFOCITY_DEMO_MAILBOX``). One per outbox message: a redelivery is a no-op."""

    __tablename__ = "demo_mailbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outbox_id: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | sms
    address: Mapped[str] = mapped_column(String(2048))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class WebhookEndpoint(Base):
    """An HTTPS endpoint of a partner system that receives signed event notifications."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(128))  # needed in clear to sign
    kinds: Mapped[str] = mapped_column(String(500), default="*")  # comma-separated kinds
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeriodicJob(Base):
    """Schedule and lease of a job the workers run once per period between them."""

    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRun(Base):
    """One run of a periodic job for one period; the unique key is the guarantee."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_name: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (UniqueConstraint("job_name", "period_start"),)


class RateLimitCounter(Base):
    """Attempts per key per fixed window, shared by every process."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEntry(Base):
    """A staff member's access to a citizen's personal data, or an administrative act."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str | None] = mapped_column(String(32))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    action: Mapped[str] = mapped_column(String(64))
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))


class WebSession(Base):
    """A browser session. The cookie carries a random token; only its hash is stored."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ServiceUse(Base):
    """One use of an e-service by a user: the base of "unique e-service users a month".

    ``used_month`` is the first day of the month in the city's time zone, written once so
    that the monthly report is a plain ``GROUP BY`` on an index on both databases.
    """

    __tablename__ = "service_uses"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_code: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_month: Mapped[date] = mapped_column(Date)

    __table_args__ = (
        Index("ix_service_uses_month_user", "used_month", "user_id"),
        Index("ix_service_uses_user", "user_id"),
    )
