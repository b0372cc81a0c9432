"""Tables of the portal: the service catalogue, e-service use, and applications.

An application belongs to the organisation responsible for it (``organisation_id``),
so each organisation's back office reads only its own rows and the table can be
partitioned or sharded by organisation later. Attachments are stored in the database
(bytes), so every app process sees them without a shared disk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class ServiceCategory(Base):
    """A heading of the catalogue (health, education, housing...)."""

    __tablename__ = "catalogue_categories"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_ru: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)


class CatalogueService(Base):
    """One city service as the catalogue shows it, in Russian and English.

    ``search_ru``/``search_en`` hold the name and description case-folded in Python:
    SQLite's ``lower()`` folds only ASCII, so Cyrillic search is done on these.
    """

    __tablename__ = "catalogue_services"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("catalogue_categories.id"), index=True)
    name_ru: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    description_ru: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    audience_ru: Mapped[str] = mapped_column(String(500))
    audience_en: Mapped[str] = mapped_column(String(500))
    link: Mapped[str | None] = mapped_column(String(500))  # None: not online yet
    application_type: Mapped[str | None] = mapped_column(String(60))
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    search_ru: Mapped[str] = mapped_column(Text)
    search_en: Mapped[str] = mapped_column(Text)


class Application(Base):
    """A citizen's application to a city service, processed by one organisation.

    ``status`` changes only through a guarded ``UPDATE ... WHERE status = :expected``
    (see ``portal.service``); the allowed moves are in ``portal.rules``.
    """

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type_code: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20))
    applicant_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id"))  # whom it is for
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    assignee_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    form_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_applications_queue", "organisation_id", "status", "deadline_at"),
        Index("ix_applications_applicant", "applicant_user_id", "created_at"),
    )


class ApplicationEvent(Base):
    """One step of an application's status history (who, when, why)."""

    __tablename__ = "application_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationComment(Base):
    """A message between the applicant and the back office about one application."""

    __tablename__ = "application_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    author_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_side: Mapped[str] = mapped_column(String(16))  # applicant | staff
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationAttachment(Base):
    """A file attached to an application; the bytes live in the row (limit in rules)."""

    __tablename__ = "application_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("applications.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CabinetDocument(Base):
    """A document a citizen keeps in the cabinet (a benefit's certificate, a priority
    right, a permission), their own or a child's; applications of the city's services
    point at it. Only the citizen who uploaded it sees it. The bytes live in the row."""

    __tablename__ = "cabinet_documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    owner_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(300))  # name, number and date, as printed
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
