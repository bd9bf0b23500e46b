"""The database schema as SQLAlchemy models.

The migrations in ``migrations/versions`` create and change the schema; these models describe
it for the code, and a test checks the two agree. Geometries are stored in CGCS2000
(EPSG:4490); every geometry has a GiST index.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4490

DATUMS = ("wgs84", "cgcs2000", "gcj02", "bd09")
RiskColour = Literal["red", "yellow", "blue"]
Tier = Literal["village", "town", "county"]
RISK_COLOURS: tuple[str, ...] = get_args(RiskColour)
INCIDENT_STATES = (
    "reported", "dispatched", "accepted", "in_progress", "resolved", "closed",
    "rejected", "merged", "reopened",
)
TIERS: tuple[str, ...] = get_args(Tier)
VERSION_STATES = ("draft", "published", "retired")
CAMERA_KINDS = ("xueliang", "tianwang", "zongzhi")
CAMERA_STATES = ("online", "offline", "fault")
ADMIN_LEVELS = ("county", "town", "village")
ADMIN_KINDS = ("county", "street", "town", "township", "community", "village")
GRID_KINDS = ("urban", "rural", "special")
UNIT_LEVELS = ("grid", "village", "town", "county")
MAX_CAMERA_RANGE_M = 1000

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _geometry(kind: str) -> Geometry:
    # Indexes are declared explicitly (``__table_args__``) so the migrations and models match.
    return Geometry(kind, srid=SRID, spatial_index=False)


class BoundaryVersion(Base):
    """A generation of boundaries (MapIt's word): a draft, or published from a moment on.

    The version in force at time t is the published one with the latest ``effective_from`` <= t.
    """

    __tablename__ = "boundary_versions"
    __table_args__ = (
        CheckConstraint(_in("status", VERSION_STATES), name="status"),
        CheckConstraint("status <> 'published' OR effective_from IS NOT NULL", name="published_has_date"),
        Index("uq_boundary_versions_effective_from", "effective_from", unique=True,
              postgresql_where=text("status = 'published'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    status: Mapped[str] = mapped_column(String(16), server_default="draft")
    effective_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    note: Mapped[str | None] = mapped_column(Text)


class AdminUnit(Base):
    """County, town or street, village or community, with its 12-digit statistical code."""

    __tablename__ = "admin_units"
    __table_args__ = (
        UniqueConstraint("version_id", "code"),
        CheckConstraint(r"code ~ '^\d{12}$'", name="code_format"),
        CheckConstraint(_in("level", ADMIN_LEVELS), name="level"),
        CheckConstraint(_in("kind", ADMIN_KINDS), name="kind"),
        CheckConstraint("(level = 'county') = (parent_id IS NULL)", name="parent_by_level"),
        Index("ix_admin_units_geom", "geom", postgresql_using="gist"),
        Index("ix_admin_units_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(12))
    level: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("admin_units.id", ondelete="CASCADE"))
    urban: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    geom = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)


class Grid(Base):
    """A grid (网格): level 1 nests in a village, level 2 in a level-1 grid, level 3 in level 2.

    Codes follow DB11/T 2157-2023: the 12-digit village code and a 3-digit sequence (15 digits);
    a sub-grid appends 3 digits to its parent's code.
    """

    __tablename__ = "grids"
    __table_args__ = (
        UniqueConstraint("version_id", "code"),
        CheckConstraint(r"code ~ '^\d{15}(\d{3}){0,2}$'", name="code_format"),
        CheckConstraint("length(code) = 12 + 3 * level", name="code_matches_level"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        CheckConstraint("(level = 1) = (parent_id IS NULL)", name="parent_by_level"),
        CheckConstraint(_in("kind", GRID_KINDS), name="kind"),
        Index("ix_grids_geom", "geom", postgresql_using="gist"),
        Index("ix_grids_version_id_level", "version_id", "level"),
        Index("ix_grids_village_id", "village_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(21))
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[int] = mapped_column(SmallInteger)
    kind: Mapped[str] = mapped_column(String(8), server_default="rural")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="CASCADE"))
    village_id: Mapped[int] = mapped_column(ForeignKey("admin_units.id", ondelete="CASCADE"))
    population: Mapped[int] = mapped_column(Integer, server_default="0")
    households: Mapped[int] = mapped_column(Integer, server_default="0")
    geom = mapped_column(_geometry("MULTIPOLYGON"), nullable=False)


class Role(Base):
    """A role a person can hold (网格员, 社区民警, ...) and the level of unit it is held at."""

    __tablename__ = "roles"
    __table_args__ = (CheckConstraint(_in("unit_level", UNIT_LEVELS), name="unit_level"),)

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
        CheckConstraint(_in("tier", TIERS), name="tier"),
        CheckConstraint(f"risk_colour IS NULL OR {_in('risk_colour', RISK_COLOURS)}", name="risk_colour"),
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
        CheckConstraint(f"risk_colour IS NULL OR {_in('risk_colour', RISK_COLOURS)}", name="risk_colour"),
        Index("uq_time_limit_rules_match", text("coalesce(category, '')"), text("coalesce(risk_colour, '')"), unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str | None] = mapped_column(ForeignKey("categories.code"))
    risk_colour: Mapped[str | None] = mapped_column(String(8))
    limit_hours: Mapped[int] = mapped_column(Integer)


class Camera(Base):
    """A video camera: 20-digit GB/T 28181 device code, kind, and its view sector."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(r"device_code ~ '^\d{20}$'", name="device_code_format"),
        CheckConstraint(_in("kind", CAMERA_KINDS), name="kind"),
        CheckConstraint(_in("status", CAMERA_STATES), name="status"),
        CheckConstraint("heading_deg >= 0 AND heading_deg < 360", name="heading"),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov"),
        # Lookups search this far for cameras that might see a point (geo_service.lookup.cameras).
        CheckConstraint(f"range_m > 0 AND range_m <= {MAX_CAMERA_RANGE_M}", name="range"),
        Index("ix_cameras_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10))
    heading_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), server_default="online")
    installed_on: Mapped[date | None] = mapped_column(Date)
    geom = mapped_column(_geometry("POINT"), nullable=False)


class Incident(Base):
    """A case: where and when it was reported, where it was assigned, and where it stands.

    ``geom`` is CGCS2000; ``input_datum``, ``input_lon`` and ``input_lat`` keep the location as
    it came in. The grid and hierarchy are those of ``boundary_version_id``, the version in force
    when it was reported, and do not change when boundaries are redrawn later.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("input_datum", DATUMS), name="input_datum"),
        CheckConstraint(_in("risk_colour", RISK_COLOURS), name="risk_colour"),
        CheckConstraint(_in("status", INCIDENT_STATES), name="status"),
        CheckConstraint(_in("tier", TIERS), name="tier"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_grid_code", "grid_code"),
        Index("ix_incidents_village_code", "village_code"),
        Index("ix_incidents_town_code", "town_code"),
        Index("ix_incidents_status_deadline", "status", "deadline"),
        Index("ix_incidents_category_reported_at", "category", "reported_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, unique=True)
    source: Mapped[str] = mapped_column(ForeignKey("sources.code"))
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str | None] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    geom = mapped_column(_geometry("POINT"), nullable=False)
    input_datum: Mapped[str] = mapped_column(String(8))
    input_lon: Mapped[float] = mapped_column(Float)
    input_lat: Mapped[float] = mapped_column(Float)
    boundary_version_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    grid_code: Mapped[str | None] = mapped_column(String(21))
    village_code: Mapped[str | None] = mapped_column(String(12))
    town_code: Mapped[str | None] = mapped_column(String(12))
    county_code: Mapped[str | None] = mapped_column(String(12))
    risk_colour: Mapped[str] = mapped_column(String(8), server_default="blue")
    status: Mapped[str] = mapped_column(String(12), server_default="reported")
    tier: Mapped[str] = mapped_column(String(8), server_default="village")
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    satisfaction: Mapped[int | None] = mapped_column(SmallInteger)
    visited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    urge_count: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    reminded_deadline: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the deadline last reminded of
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentOfficer(Base):
    """A person bound to a case by the rules; ``officer_id`` null records a vacancy."""

    __tablename__ = "incident_officers"
    __table_args__ = (
        CheckConstraint(_in("tier", TIERS), name="tier"),
        Index("ix_incident_officers_incident_id", "incident_id"),
        Index("ix_incident_officers_officer_id", "officer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    tier: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(SmallInteger)
    role: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    unit_code: Mapped[str | None] = mapped_column(String(21))
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentEvent(Base):
    """One step on a case's timeline."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident_id_at", "incident_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    data = mapped_column(JSONB)


class IncidentExtension(Base):
    """A request for more time on a case, and the decision of the level above."""

    __tablename__ = "incident_extensions"
    __table_args__ = (
        CheckConstraint("hours > 0", name="positive"),
        Index("uq_incident_extensions_pending", "incident_id", unique=True,
              postgresql_where=text("decided_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    requested_by: Mapped[str] = mapped_column(Text)
    hours: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(Text)
    granted: Mapped[bool | None] = mapped_column(Boolean)


class OutboxMessage(Base):
    """A message to send, written in the same transaction as the change that causes it.

    A sender delivers pending messages with retries; ``id`` is the idempotency key a receiver
    uses to drop the copy a crash between sending and recording may produce.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "next_attempt_at", postgresql_where=text("sent_at IS NULL")),
        Index("ix_outbox_incident_id", "incident_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    role: Mapped[str | None] = mapped_column(String(40))
    payload = mapped_column(JSONB, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)


class AccessRole(Base):
    """Who a user of the service is (admin, planner, dispatcher, analyst, grid worker, leader):
    not to be confused with ``roles``, the posts officers hold in the responsibility rules."""

    __tablename__ = "access_roles"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name_zh: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class RolePermission(Base):
    """What a role may do (``geo_service/rules/permissions.csv`` seeds it; the table is the truth)."""

    __tablename__ = "role_permissions"

    role: Mapped[str] = mapped_column(ForeignKey("access_roles.code", ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(40), primary_key=True)


class User(Base):
    """A user of the service: a role, a jurisdiction (county, town, village or grid code), and a
    bearer token of which only the SHA-256 is kept."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(r"jurisdiction ~ '^\d{12}(\d{3}){0,3}$'", name="jurisdiction_format"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(ForeignKey("access_roles.code"))
    jurisdiction: Mapped[str] = mapped_column(String(21))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class AuditLog(Base):
    """Every write, and every read of personal data: who, when, what, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_at", "at"),
        Index("ix_audit_log_entity_entity_id", "entity", "entity_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(Text)
    before = mapped_column(JSONB)
    after = mapped_column(JSONB)


class ServiceMeta(Base):
    """Facts about the database's contents, such as which demo county it holds."""

    __tablename__ = "service_meta"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
