"""Tables of state exam results: participants, results (every version kept), the
imports that brought them, publications and who asked to be told of them.

A participant is known by the registration code of their exam; the document number is
kept only as a digest, enough to check a look-up and nothing more. A correction never
overwrites a result: it is a new version, and the newest version whose publication time
has passed is the one shown.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class ExamParticipant(Base):
    __tablename__ = "exam_participants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    registration_code: Mapped[str] = mapped_column(String(20), unique=True)
    # rules.document_digest(code, number): the number itself is not stored.
    document_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExamImport(Base):
    """One accepted results file (a refused file leaves no row)."""

    __tablename__ = "exam_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: SYSTEM
    rows: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExamResult(Base):
    __tablename__ = "exam_results"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("exam_participants.id"))
    subject: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)  # 1, then one more per correction
    score: Mapped[int] = mapped_column(SmallInteger)
    pass_mark: Mapped[int] = mapped_column(SmallInteger)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    import_id: Mapped[int] = mapped_column(ForeignKey("exam_imports.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("participant_id", "subject", "version"),
        # The fan-out finds a publication's participants by subject and instant.
        Index("ix_exam_results_subject_published", "subject", "published_at"),
    )


class ExamPublication(Base):
    """A subject's results made public at one instant: announced once to subscribers."""

    __tablename__ = "exam_publications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="scheduled")  # rules.PublicationState
    announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("subject", "published_at"),
        Index("ix_exam_publications_state", "state", "published_at"),
    )


class ExamSubscription(Base):
    """A logged-in user (the participant or a parent) told when a subject is published."""

    __tablename__ = "exam_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("exam_participants.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "participant_id"),)


class ExamNotice(Base):
    """A subscriber told of a publication: the unique pair makes it once, however many
    times the fan-out runs."""

    __tablename__ = "exam_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    publication_id: Mapped[int] = mapped_column(ForeignKey("exam_publications.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("exam_subscriptions.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("publication_id", "subscription_id"),)
