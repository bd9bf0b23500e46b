"""Cases: incidents, the people bound to them, their timelines, extensions and messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base, geometry_column, one_of
from geo_service.db.partitions import NO_COUNTY
from geo_service.vocabulary import (
    DATUMS,
    OPEN_STATUSES,
    RISK_COLOURS,
    STATUSES,
    TIERS,
)

# The open red cases, which the wall lists: a partial index holds these few.
OPEN_RED = "risk_colour = 'red' AND status IN (" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"


def _incident_key(match: str | None = None) -> ForeignKeyConstraint:
    """A child's reference to its incident: by (id, county_code), the incidents' key; the
    children follow their incident if it is deleted or moved to another county."""
    return ForeignKeyConstraint(
        ["incident_id", "county_code"],
        ["incidents.id", "incidents.county_code"],
        ondelete="CASCADE",
        onupdate="CASCADE",
        match=match,
    )


class Incident(Base):
    """A case: where and when it was reported, where it was assigned, and where it stands.

    ``geom`` is CGCS2000; ``input_datum``, ``input_lon`` and ``input_lat`` keep the location as
    it came in. The grid and hierarchy are those of ``boundary_version_id``, the version in force
    when it was reported, and do not change when boundaries are redrawn later.

    Partitioned by county (``geo_service.db.partitions``): keyed by ``(id, county_code)``, ids
    from one sequence; ``external_id`` is unique within a county.
    """

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("external_id", "county_code"),
        ForeignKeyConstraint(
            ["merged_into_id", "merged_into_county_code"],
            ["incidents.id", "incidents.county_code"],
            match="FULL",
            onupdate="CASCADE",
        ),
        CheckConstraint(one_of("input_datum", DATUMS), name="input_datum"),
        CheckConstraint(one_of("risk_colour", RISK_COLOURS), name="risk_colour"),
        CheckConstraint(one_of("status", STATUSES), name="status"),
        CheckConstraint(one_of("tier", TIERS), name="tier"),
        CheckConstraint("satisfaction BETWEEN 1 AND 5", name="satisfaction"),
        Index("ix_incidents_geom", "geom", postgresql_using="gist"),
        Index("ix_incidents_reported_at", "reported_at"),
        Index("ix_incidents_grid_code", "grid_code"),
        Index("ix_incidents_village_code", "village_code"),
        Index("ix_incidents_town_code", "town_code"),
        Index("ix_incidents_county_code", "county_code"),
        Index("ix_incidents_status_deadline", "status", "deadline"),
        Index("ix_incidents_category_reported_at", "category", "reported_at"),
        Index("ix_incidents_grid_id_reported_at", "grid_id", "reported_at"),
        Index(
            "ix_incidents_department_status", "department", "status", postgresql_where=text("department IS NOT NULL")
        ),
        # The wall screen's counts of cases closed in a span, and its open red cases (few).
        Index("ix_incidents_closed_at", "closed_at", postgresql_where=text("status = 'closed'")),
        Index("ix_incidents_open_red_reported_at", "reported_at", postgresql_where=text(OPEN_RED)),
        {"postgresql_partition_by": "LIST (county_code)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(ForeignKey("sources.code"))
    category: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str | None] = mapped_column(Text)
    reporter_name: Mapped[str | None] = mapped_column(Text)
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    geom = mapped_column(geometry_column("POINT"), nullable=False)
    input_datum: Mapped[str] = mapped_column(String(8))
    input_lon: Mapped[float] = mapped_column(Float)
    input_lat: Mapped[float] = mapped_column(Float)
    boundary_version_id: Mapped[int | None] = mapped_column(ForeignKey("boundary_versions.id"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id"))
    grid_code: Mapped[str | None] = mapped_column(String(21))
    village_code: Mapped[str | None] = mapped_column(String(12))
    town_code: Mapped[str | None] = mapped_column(String(12))
    # The partition key; NO_COUNTY for a case in or near no county's grid.
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True, server_default=NO_COUNTY)
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
    merged_into_id: Mapped[int | None] = mapped_column(BigInteger)
    merged_into_county_code: Mapped[str | None] = mapped_column(String(12))
    # The matter of the county's list (a sub-category) and the department handling the case now
    # (``geo_service.cases.transfers``; null: its territorial people alone).
    matter: Mapped[str | None] = mapped_column(ForeignKey("matters.code"))
    department: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IncidentOfficer(Base):
    """A person bound to a case by the rules; ``officer_id`` null records a vacancy."""

    __tablename__ = "incident_officers"
    __table_args__ = (
        CheckConstraint(one_of("tier", TIERS), name="tier"),
        _incident_key(),
        Index("ix_incident_officers_incident_id", "incident_id"),
        Index("ix_incident_officers_officer_id", "officer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12))  # the incident's
    tier: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(SmallInteger)
    role: Mapped[str] = mapped_column(ForeignKey("roles.code"))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    unit_code: Mapped[str | None] = mapped_column(String(21))
    bound_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentEvent(Base):
    """One step on a case's timeline, in its incident's county's partition."""

    __tablename__ = "incident_events"
    __table_args__ = (
        _incident_key(),
        Index("ix_incident_events_incident_id_at", "incident_id", "at"),
        {"postgresql_partition_by": "LIST (county_code)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12), primary_key=True)  # the incident's: the partition key
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
        _incident_key(),
        Index(
            "uq_incident_extensions_pending", "incident_id", unique=True, postgresql_where=text("decided_at IS NULL")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12))  # the incident's
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
        _incident_key(match="FULL"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    incident_id: Mapped[int | None] = mapped_column(BigInteger)
    county_code: Mapped[str | None] = mapped_column(String(12))  # the incident's (both NULL or neither)
    kind: Mapped[str] = mapped_column(String(20))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    role: Mapped[str | None] = mapped_column(String(40))
    payload = mapped_column(JSONB, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)  # the words sent (or tried), from the notice templates


ATTACHMENT_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic", "video/mp4", "video/quicktime")


class IncidentAttachment(Base):
    """A photo or short video of a case: the file is kept on disk under its SHA-256
    (``geo_service.cases.attachments``); a case holds the same bytes once."""

    __tablename__ = "incident_attachments"
    __table_args__ = (
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256"),
        CheckConstraint(one_of("media_type", ATTACHMENT_TYPES), name="media_type"),
        CheckConstraint("size_bytes > 0", name="size"),
        CheckConstraint("(exif_lon IS NULL) = (exif_lat IS NULL)", name="position"),
        _incident_key(),
        UniqueConstraint("incident_id", "sha256"),
        Index("ix_incident_attachments_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(BigInteger)
    county_code: Mapped[str] = mapped_column(String(12))  # the incident's
    sha256: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    file_name: Mapped[str | None] = mapped_column(Text)
    exif_lon: Mapped[float | None] = mapped_column(Float)  # WGS84, as the camera wrote it
    exif_lat: Mapped[float | None] = mapped_column(Float)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
