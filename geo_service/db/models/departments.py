"""Departments (migration 0015): who answers beyond the village, the matters they handle, and the
cases transferred to them with the people bound while they hold one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base, one_of
from geo_service.rules.tables import DEPARTMENT_KINDS, DUTIES, TRANSFER_STATES
from geo_service.vocabulary import RISK_COLOURS


def _incident_key() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["incident_id", "county_code"],
        ["incidents.id", "incidents.county_code"],
        ondelete="CASCADE",
        onupdate="CASCADE",
    )


class Department(Base):
    """A county department (县直部门) or a town office, with the hours it has to handle a case."""

    __tablename__ = "departments"
    __table_args__ = (
        CheckConstraint(r"county_code ~ '^\d{6}000000$'", name="county_code_format"),
        CheckConstraint(one_of("kind", DEPARTMENT_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'town_office') = (town_code IS NOT NULL) AND "
            "(town_code IS NULL OR left(town_code, 6) = left(county_code, 6))",
            name="town",
        ),
        CheckConstraint("limit_hours > 0", name="positive"),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    county_code: Mapped[str] = mapped_column(String(12))
    kind: Mapped[str] = mapped_column(String(20))
    town_code: Mapped[str | None] = mapped_column(String(12))
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    limit_hours: Mapped[int] = mapped_column(Integer)


class DepartmentStaff(Base):
    """A person of a department, told of the cases it is given (its head first)."""

    __tablename__ = "department_staff"
    __table_args__ = (CheckConstraint(one_of("duty", DUTIES), name="duty"), UniqueConstraint("department", "name"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    name: Mapped[str] = mapped_column(Text)
    phone: Mapped[str] = mapped_column(String(20))
    duty: Mapped[str] = mapped_column(String(8))


class Matter(Base):
    """A matter of the county's list (事项清单): the second level under a category."""

    __tablename__ = "matters"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)


class RoutingRule(Base):
    """A matter (in a place: a code or its first digits; of a colour) goes to a department; the
    most specific matching rule wins (``geo_service.cases.routing``)."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        CheckConstraint(r"place IS NULL OR place ~ '^\d{6,12}$'", name="place_format"),
        CheckConstraint(f"risk_colour IS NULL OR {one_of('risk_colour', RISK_COLOURS)}", name="risk_colour"),
        Index(
            "uq_routing_rules_match",
            "matter",
            text("coalesce(place, '')"),
            text("coalesce(risk_colour, '')"),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    matter: Mapped[str] = mapped_column(ForeignKey("matters.code"))
    place: Mapped[str | None] = mapped_column(String(12))
    risk_colour: Mapped[str | None] = mapped_column(String(8))
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))


class IncidentTransfer(Base):
    """A case handed to a department: by a rule at intake or by a dispatcher; then accepted, sent
    back with a reason, or withdrawn for a transfer elsewhere. One is open at a time."""

    __tablename__ = "incident_transfers"
    __table_args__ = (
        CheckConstraint(one_of("state", TRANSFER_STATES), name="state"),
        CheckConstraint("(state = 'pending') = (decided_at IS NULL)", name="decided"),
        CheckConstraint("state <> 'returned' OR return_reason IS NOT NULL", name="return_reason"),
        _incident_key(),
        Index("ix_incident_transfers_incident_id", "incident_id"),
        Index(
            "uq_incident_transfers_open",
            "incident_id",
            unique=True,
            postgresql_where=text("state IN ('pending', 'accepted')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12))  # the incident's
    department: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    state: Mapped[str] = mapped_column(String(10))
    transferred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    transferred_by: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(Text)  # the routing rule that chose the department
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)


class IncidentStaff(Base):
    """A department's person bound to a case while its transfer is open (name and duty kept as
    they were, should the person leave the department later)."""

    __tablename__ = "incident_staff"
    __table_args__ = (
        CheckConstraint(one_of("duty", DUTIES), name="duty"),
        _incident_key(),
        Index("ix_incident_staff_incident_id", "incident_id"),
        Index("ix_incident_staff_transfer_id", "transfer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12))  # the incident's
    transfer_id: Mapped[int] = mapped_column(ForeignKey("incident_transfers.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("department_staff.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(Text)
    duty: Mapped[str] = mapped_column(String(8))
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
