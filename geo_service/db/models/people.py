"""Who answers: roles, officers and their dated assignments to places."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base, one_of
from geo_service.vocabulary import (
    UNIT_LEVELS,
)


class Role(Base):
    """A role a person can hold (网格员, 社区民警, ...) and the level of unit it is held at."""

    __tablename__ = "roles"
    __table_args__ = (CheckConstraint(one_of("unit_level", UNIT_LEVELS), name="unit_level"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    unit_level: Mapped[str] = mapped_column(String(8))


class Officer(Base):
    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(20))
    gender: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class OfficerAssignment(Base):
    """An officer answering for a unit in a role over dates (``valid_to`` inclusive, open if null).

    Units are named by code, not row, so a responsibility outlives boundary versions that keep
    the unit's code.
    """

    __tablename__ = "officer_assignments"
    __table_args__ = (
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="dates"),
        CheckConstraint(r"unit_code ~ '^\d{12}(\d{3}){0,3}$'", name="unit_code_format"),
        Index("ix_officer_assignments_unit_code_role", "unit_code", "role"),
        Index("ix_officer_assignments_officer_id", "officer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    unit_code: Mapped[str] = mapped_column(String(21))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
