"""Rules an administrator edits: categories, sources, who is responsible, time limits."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base, one_of
from geo_service.vocabulary import (
    RISK_COLOURS,
    TIERS,
)


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class Source(Base):
    __tablename__ = "sources"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class ResponsibilityRule(Base):
    """Who answers for a case handled at ``tier`` with ``risk_colour`` (null: every colour).

    ``position`` orders the people to call; ``core`` marks the "3" of "3+N".
    """

    __tablename__ = "responsibility_rules"
    __table_args__ = (
        CheckConstraint(one_of("tier", TIERS), name="tier"),
        CheckConstraint(f"risk_colour IS NULL OR {one_of('risk_colour', RISK_COLOURS)}", name="risk_colour"),
        Index("uq_responsibility_rules_slot", "tier", text("coalesce(risk_colour, '')"), "position", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tier: Mapped[str] = mapped_column(String(8))
    risk_colour: Mapped[str | None] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(SmallInteger)
    role: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    core: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


class TimeLimitRule(Base):
    """Hours allowed from dispatch; the most specific (category, colour) match wins."""

    __tablename__ = "time_limit_rules"
    __table_args__ = (
        CheckConstraint("limit_hours > 0", name="positive"),
        CheckConstraint(f"risk_colour IS NULL OR {one_of('risk_colour', RISK_COLOURS)}", name="risk_colour"),
        Index(
            "uq_time_limit_rules_match", text("coalesce(category, '')"), text("coalesce(risk_colour, '')"), unique=True
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    risk_colour: Mapped[str | None] = mapped_column(String(8))
    limit_hours: Mapped[int] = mapped_column(Integer)
