"""Apartments (meters, readings and bills come with the utilities service)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base
from infocity.core.models import BigId


class Apartment(Base):
    __tablename__ = "apartments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payer_code: Mapped[str] = mapped_column(String(10), unique=True)  # 10 digits on the bill
    operator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    address: Mapped[str] = mapped_column(String(500))  # the building
    number: Mapped[str] = mapped_column(String(10))  # the apartment in the building
    residents: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("address", "number"),)
