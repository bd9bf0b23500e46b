"""The service's settings: one object, made of one part per concern, built by the faces.

Only ``create_app`` and the command line build settings (``Settings()``, or
``Settings.from_values(...)`` with overrides); the library receives them, or the values it
needs, from its caller and never reads the process's environment itself.

Every setting comes from an environment variable prefixed ``GEO_SERVICE_`` (or from a ``.env``
file in the working directory), named as before the split: ``GEO_SERVICE_TIMEZONE`` sets
``settings.place.timezone``. ``DATABASE_URL`` is also read without the prefix, as hosting
platforms set it. Without a database URL the service uses the project-local PostgreSQL cluster
that ``geo-service db up`` runs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo_service.times import DEFAULT_ZONE

PACKAGE_DIR = Path(__file__).resolve().parent


def _project_root() -> Path:
    """The checkout the package runs from, or the working directory for an installed copy."""
    candidate = PACKAGE_DIR.parent
    if (candidate / "pyproject.toml").exists():
        return candidate
    return Path.cwd()


PROJECT_ROOT = _project_root()


class _Part(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GEO_SERVICE_", env_file=".env", extra="ignore", populate_by_name=True)


class DatabaseSettings(_Part):
    """Where the database is: a URL, or the project-local cluster run by ``geo-service db up``."""

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("GEO_SERVICE_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of a PostGIS database; unset means the local cluster.",
    )
    pg_dir: Path = Field(default=PROJECT_ROOT / "var" / "postgres")
    pg_port: int = 55432
    pg_database: str = "geo_service"
    pg_user: str = "geo_service"
    # Continuous archiving of the local cluster's write-ahead log into this folder (for
    # point-in-time recovery from a base backup); unset, nothing is archived.
    wal_archive_dir: Path | None = None

    @property
    def local_url(self) -> str:
        return f"postgresql+psycopg2://{self.pg_user}@127.0.0.1:{self.pg_port}/{self.pg_database}"

    @property
    def url(self) -> str:
        """The URL the service connects to."""
        return self.database_url or self.local_url

    @property
    def uses_local_cluster(self) -> bool:
        return self.database_url is None


class ServingSettings(_Part):
    """The HTTP server and what keeps one client from starving the others."""

    host: str = "127.0.0.1"
    port: int = 8000
    # Request bodies, and requests per minute per user to the expensive endpoints (analyses,
    # bulk work, exports).
    max_body_bytes: int = 20 * 1024 * 1024
    expensive_per_minute: int = 30
    # Tiles of boundary layers kept in memory per worker (0 turns the cache off).
    tile_cache_mb: int = 256
    # /metrics answers only a request bearing this token when it is set; unset, anyone may scrape.
    metrics_token: str | None = None
    # On SIGTERM, how long requests in flight may still run before they are cut off.
    graceful_timeout_s: float = 30.0
    # uvicorn worker processes of ``geo-service serve``; 0: one per core the process may run on.
    workers: int = Field(default=0, ge=0)
    # Analyses run in a pool of processes of their own per worker, so that one analysis cannot
    # stall the lookups and tiles of the same worker: this many processes (0: in the worker's
    # own threads, no pool), at most ``analysis_queue`` more analyses waiting for one (beyond:
    # 503 with Retry-After), run at this lower CPU priority (``nice``) than the requests.
    analysis_workers: int = Field(default=1, ge=0)
    analysis_queue: int = Field(default=8, ge=0)
    analysis_nice: int = Field(default=10, ge=0, le=19)
    # Answers at least this big are gzip-compressed for a client that accepts it (smaller ones
    # fit in a packet or two and gain nothing).
    compress_min_bytes: int = Field(default=1400, ge=0)


class PlaceSettings(_Part):
    """Space and time of the counties: CGCS2000 (EPSG:4490) is stored, always; distances and areas
    are taken in the 3-degree Gauss-Krueger zone of CGCS2000 each county or area lies in
    (``geo_service.coordinates.projection``), unless ``metric_srid`` fixes one for all; the
    counties' day is Beijing time."""

    metric_srid: int | None = None
    timezone: str = DEFAULT_ZONE
    # Lookups: how far beyond the county a point is still answered (with the nearest grid), and
    # how far around a spot cameras that do not see it are still listed.
    coverage_margin_m: float = 10_000.0
    camera_radius_m: float = 300.0


class CaseSettings(_Part):
    """The closed loop and its messages."""

    # A village case urged this many times is proposed for escalation to the town; an open case
    # whose deadline is this close is listed as due soon.
    escalation_after_urges: int = 2
    due_soon_hours: float = 24.0
    # Photos and short videos of cases: stored under this folder by their content's hash, each at
    # most this big.
    attachments_dir: Path = Field(default=PROJECT_ROOT / "var" / "attachments")
    attachment_max_bytes: int = 25 * 1024 * 1024
    # Two cases of one category this close in space and time are proposed as duplicates.
    duplicate_distance_m: float = 100.0
    duplicate_window_hours: float = 48.0
    # The outbox's messages go to this webhook (an SMS gateway) if set, else to a log file of
    # JSON lines.
    outbox_webhook_url: str | None = None
    outbox_log: Path = Field(default=PROJECT_ROOT / "var" / "outbox.log")


class PlanningSettings(_Part):
    """Planners' checks of a boundary draft. Overlaps, gaps and spill-overs smaller than the
    tolerance are digitising noise, not errors. Household targets per grid: urban grids of 300 to
    500 households is the usual guidance (GB/T 34300-2017 and provincial rules built on it); rural
    grids are "a natural village or about 300 households", so the rural band is wider."""

    boundary_tolerance_m2: float = 10.0
    sliver_area_m2: float = 1_000.0
    sliver_polsby_popper: float = 0.05
    urban_households: tuple[int, int] = (300, 500)
    rural_households: tuple[int, int] = (100, 400)
    # Impact and workload count the incidents of this many recent months.
    impact_months: int = 12
    boundary_import_max_features: int = 50_000
    boundary_upload_max_bytes: int = 200 * 1024 * 1024


class MapSettings(_Part):
    """The map page's basemap: none by default (county intranets have none), or a raster tile URL
    template ({z}/{x}/{y}) with the datum its tiles are drawn in; for gcj02 or bd09 (AMap,
    Tencent, Baidu) the page's layers are shifted onto it."""

    basemap_url: str | None = None
    basemap_datum: str = "wgs84"
    basemap_attribution: str = ""


class IdentitySettings(_Part):
    """OpenID Connect tokens from the county's identity provider are accepted when its keys are
    configured (a JWKS URL or file), with the claims naming a user's role and jurisdiction."""

    oidc_jwks: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_name_claim: str = "preferred_username"
    oidc_role_claim: str = "geo_service_role"
    oidc_jurisdiction_claim: str = "geo_service_jurisdiction"


class DemoSettings(_Part):
    """The demo county: its seed and where its generated files go."""

    demo_seed: int = 511421
    demo_dir: Path = Field(default=PROJECT_ROOT / "boundaries" / "demo")


class Settings(BaseModel):
    """All the settings, one part per concern; each part reads its own ``GEO_SERVICE_*`` variables."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    place: PlaceSettings = Field(default_factory=PlaceSettings)
    cases: CaseSettings = Field(default_factory=CaseSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    map: MapSettings = Field(default_factory=MapSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, values: Any) -> Any:
        """Accept settings by their flat names, as the environment spells them
        (``Settings(database_url=url, timezone="Asia/Urumqi")``), each sent to its part; an
        unknown name is refused, so a misspelt override cannot pass unnoticed."""
        if not isinstance(values, dict):
            return values
        routed: dict[str, Any] = {}
        flat: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            if name in cls.model_fields:
                routed[name] = value
            elif name in _PART_OF:
                flat.setdefault(_PART_OF[name], {})[name] = value
            else:
                raise ValueError(f"no setting called {name!r}")
        for part, given in flat.items():
            current = routed.get(part)
            if isinstance(current, BaseModel):
                routed[part] = current.model_copy(update=given)
            else:
                routed[part] = _PART_TYPES[part](**{**(current or {}), **given})
        return routed


_PART_TYPES: dict[str, type[_Part]] = {
    part: field.annotation
    for part, field in Settings.model_fields.items()  # type: ignore[misc]
}
_PART_OF: dict[str, str] = {name: part for part, kind in _PART_TYPES.items() for name in kind.model_fields}


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once: for the faces (the command line), never the library."""
    return Settings()
