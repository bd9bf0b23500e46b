"""Rules an administrator edits: categories, sources, who is responsible, time limits, and the
names a county's own files use for them (job titles, camera kinds, Chinese names of values)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
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


class JobTitle(Base):
    """A job title as a county's roster writes it (网格员, 村党支部书记, ...) and the role it holds."""

    __tablename__ = "job_titles"

    title: Mapped[str] = mapped_column(Text, primary_key=True)
    role: Mapped[str] = mapped_column(ForeignKey("roles.code"))


class CameraKind(Base):
    """A kind of camera (雪亮, 天网, 综治, ...) and the view a camera of that kind is given when its
    export says nothing of it."""

    __tablename__ = "camera_kinds"
    __table_args__ = (
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov"),
        CheckConstraint("range_m > 0", name="range"),
    )

    code: Mapped[str] = mapped_column(String(10), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)


class ValueAlias(Base):
    """A name a county's files use for one of the service's values: 已办结 for the status closed,
    满意 for satisfaction 4, 红色 for the risk colour red."""

    __tablename__ = "value_aliases"

    field: Mapped[str] = mapped_column(String(20), primary_key=True)
    alias: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Region(Base):
    """A province or prefecture-level city (GB/T 2260, as a 12-digit code: 511400000000 is 眉山市),
    named for the users whose jurisdiction it is. Its counties are those whose codes it prefixes."""

    __tablename__ = "regions"
    __table_args__ = (CheckConstraint(r"code ~ '^\d{2}(\d{2})?0{8}$' AND code <> '000000000000'", name="code_format"),)

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class NoticeTemplate(Base):
    """The words of a notification of one kind (dispatch, urge, deadline near, ...), filled in by
    ``geo_service.cases.notices``; ``default`` serves the kinds without their own."""

    __tablename__ = "notice_templates"

    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    text_zh: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
