"""Where things are: boundary versions, towns and villages, grids, and the cameras that watch them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from geo_service.db.models.base import Base, geometry_column, one_of
from geo_service.vocabulary import (
    ADMIN_KINDS,
    ADMIN_LEVELS,
    CAMERA_STATES,
    GRID_KINDS,
    MAX_CAMERA_RANGE_M,
    VERSION_STATES,
)


class BoundaryVersion(Base):
    """A generation of one county's boundaries (MapIt's word): a draft, or published from a moment on.

    Each county has its own versions: the version in force in a county at time t is its published
    one with the latest ``effective_from`` <= t, whatever other counties publish. A draft takes the
    county of the first place written into it, and holds no place of another county.
    """

    __tablename__ = "boundary_versions"
    __table_args__ = (
        CheckConstraint(one_of("status", VERSION_STATES), name="status"),
        CheckConstraint("status <> 'published' OR effective_from IS NOT NULL", name="published_has_date"),
        CheckConstraint("status <> 'published' OR county_code IS NOT NULL", name="published_has_county"),
        CheckConstraint(r"county_code ~ '^\d{6}000000$'", name="county_code_format"),
        Index(
            "uq_boundary_versions_county_effective_from",
            "county_code",
            "effective_from",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    county_code: Mapped[str | None] = mapped_column(String(12))
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
        CheckConstraint(one_of("level", ADMIN_LEVELS), name="level"),
        CheckConstraint(one_of("kind", ADMIN_KINDS), name="kind"),
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
    geom = mapped_column(geometry_column("MULTIPOLYGON"), nullable=False)


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
        CheckConstraint(one_of("kind", GRID_KINDS), name="kind"),
        Index("ix_grids_geom", "geom", postgresql_using="gist"),
        Index("ix_grids_version_id_level", "version_id", "level"),
        Index("ix_grids_village_id", "village_id"),
        Index("ix_grids_parent_id", "parent_id"),
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
    geom = mapped_column(geometry_column("MULTIPOLYGON"), nullable=False)


class Camera(Base):
    """A video camera: 20-digit GB/T 28181 device code, kind, and its view sector."""

    __tablename__ = "cameras"
    __table_args__ = (
        CheckConstraint(r"device_code ~ '^\d{20}$'", name="device_code_format"),
        CheckConstraint(one_of("status", CAMERA_STATES), name="status"),
        CheckConstraint("heading_deg >= 0 AND heading_deg < 360", name="heading"),
        CheckConstraint("fov_deg > 0 AND fov_deg <= 360", name="fov"),
        # Lookups search this far for cameras that might see a point (geo_service.lookup.cameras).
        CheckConstraint(f"range_m > 0 AND range_m <= {MAX_CAMERA_RANGE_M}", name="range"),
        Index("ix_cameras_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(ForeignKey("camera_kinds.code"))
    heading_deg: Mapped[float] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    range_m: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(8), server_default="online")
    installed_on: Mapped[date | None] = mapped_column(Date)
    geom = mapped_column(geometry_column("POINT"), nullable=False)
