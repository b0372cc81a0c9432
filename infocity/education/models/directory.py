"""The education directory: schools and their buildings, kindergartens and their age
groups' places, and the addresses assigned to each school's territory.

A school or kindergarten is an organisation of the city (``organisations``) and its
education profile shares its id, as staff grants name the organisation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class School(Base):
    __tablename__ = "schools"

    id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SchoolBuilding(Base):
    __tablename__ = "school_buildings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    address: Mapped[str] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("school_id", "address"),)


class Kindergarten(Base):
    __tablename__ = "kindergartens"

    id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KindergartenGroup(Base):
    """The places of one age group of a kindergarten in one school year. ``free_places``
    changes only by guarded updates: down when a place is offered, up when it returns."""

    __tablename__ = "kindergarten_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)  # the school year, by its first September
    age_group: Mapped[int] = mapped_column(Integer)  # full years on that 1 September
    places: Mapped[int] = mapped_column(Integer)
    free_places: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("kindergarten_id", "year", "age_group"),
        CheckConstraint("free_places >= 0 AND free_places <= places", name="free_places"),
    )


class TerritoryAddress(Base):
    """A building's address and the school whose territory it is in. ``address_key`` is
    the address as compared (case, ё and spacing folded)."""

    __tablename__ = "school_territory"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    address_key: Mapped[str] = mapped_column(String(500), unique=True)
    address: Mapped[str] = mapped_column(String(500))
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
