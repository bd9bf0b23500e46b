"""OGC API - Features collections: each declared once (table, id, properties and their types, time
column, the properties that filter and sort), read by :mod:`geo_service.ogc.items`, described to
clients by :mod:`geo_service.ogc.openapi` and the queryables.

Grids and admin units are those of the boundaries in force (every county's version), or of one
version (``grids-v<id>``); incidents and cameras are the deployment's. Personal data (reporters'
names and phones) is never served here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.boundaries.versions import Version, find_version, list_versions
from geo_service.errors import NotFound
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_SRID

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
# CRS URI -> (SRID, latitude first?)
SUPPORTED_CRS: dict[str, tuple[int, bool]] = {
    CRS84: (4326, False),
    EPSG.format(STORAGE_SRID): (STORAGE_SRID, True),
    EPSG.format(4326): (4326, True),
}
STORAGE_CRS = EPSG.format(STORAGE_SRID)
_PART3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    _PART3 + "queryables",
    _PART3 + "queryables-query-parameters",
    _PART3 + "filter",
    _PART3 + "features-filter",
    _CQL2 + "cql2-text",
    _CQL2 + "cql2-json",
    _CQL2 + "basic-cql2",
    _CQL2 + "advanced-comparison-operators",
    _CQL2 + "case-insensitive-comparison",
    _CQL2 + "basic-spatial-operators",
    _CQL2 + "spatial-operators",
    _CQL2 + "temporal-operators",
    "http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting",
]
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 1_000
# JSON Schema of a property's type (``types`` names the ones that are not text).
_SCHEMAS = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "date-time": {"type": "string", "format": "date-time"},
}


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    source: str  # FROM clause; may use :versions (the boundary versions read)
    id_column: str
    geometry: str
    properties: dict[str, str]  # output name -> SQL expression
    time_column: str | None = None
    filters: tuple[str, ...] = ()  # properties that may be filtered by equality (?name=value)
    types: dict[str, str] = field(default_factory=dict)  # property -> a key of _SCHEMAS (default string)
    sortable: tuple[str, ...] = ()  # properties ``sortby`` takes (never null, so keyset paging holds)
    versioned: bool = False  # rows belong to a boundary version
    fixed_version: int | None = None
    permission: str = "boundaries.read"
    scope_kind: str = "grids"  # which of Jurisdiction's predicates limits the rows

    def scoped(self, scope: Jurisdiction) -> str:
        """The rows of this collection within ``scope``, as a condition on the source's aliases."""
        alias = self.id_column.split(".")[0]
        if self.scope_kind == "cameras":
            return scope.covers(self.geometry)
        return getattr(scope, self.scope_kind)(alias)

    def schema(self, name: str) -> dict:
        """The JSON Schema of property ``name``."""
        return dict(_SCHEMAS[self.types.get(name, "string")])

    def queryables(self, url: str) -> dict:
        """Part 3's queryables document: every property, and the geometry."""
        properties = {name: {"title": name, **self.schema(name)} for name in self.properties}
        properties["geometry"] = {"format": "geometry-any", "title": "geometry"}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": url,
            "type": "object",
            "title": self.title,
            "properties": properties,
            "additionalProperties": False,
        }


_ADMIN = Collection(
    id="admin_units",
    title="Towns, villages and the county",
    description="Administrative units of the boundary version in force (or in force at `datetime`).",
    source="admin_units u LEFT JOIN admin_units p ON p.id = u.parent_id WHERE u.version_id = ANY(:versions)",
    id_column="u.code",
    geometry="u.geom",
    properties={
        "code": "u.code",
        "name": "u.name",
        "level": "u.level",
        "kind": "u.kind",
        "parent_code": "p.code",
        "urban": "u.urban",
        "households": "u.households",
        "population": "u.population",
    },
    filters=("code", "level", "kind", "parent_code"),
    types={"urban": "boolean", "households": "integer", "population": "integer"},
    sortable=("code", "name", "level"),
    versioned=True,
    scope_kind="units",
)
_GRID_PROPERTIES = {
    "code": "g.code",
    "name": "g.name",
    "level": "g.level",
    "kind": "g.kind",
    "village_code": "v.code",
    "parent_code": "p.code",
    "households": "g.households",
    "population": "g.population",
}
_GRID_FILTERS = ("code", "level", "kind", "village_code", "parent_code")
_GRID_TYPES = {"level": "integer", "households": "integer", "population": "integer"}
_GRID_SOURCE = (
    "grids g JOIN admin_units v ON v.id = g.village_id LEFT JOIN grids p ON p.id = g.parent_id "
    "WHERE g.version_id = ANY(:versions)"
)
_GRIDS = Collection(
    id="grids",
    title="Grids in force",
    description="Grids of the boundary version in force now (or at the instant `datetime`).",
    source=_GRID_SOURCE,
    id_column="g.code",
    geometry="g.geom",
    properties=_GRID_PROPERTIES,
    filters=_GRID_FILTERS,
    types=_GRID_TYPES,
    sortable=("code", "name", "level"),
    versioned=True,
)
_CAMERAS = Collection(
    id="cameras",
    title="Video cameras",
    description="Cameras with their view: heading and field of view in degrees, range in metres.",
    source="cameras c WHERE true",
    id_column="c.device_code",
    geometry="c.geom",
    properties={
        "device_code": "c.device_code",
        "name": "c.name",
        "kind": "c.kind",
        "status": "c.status",
        "heading_deg": "c.heading_deg",
        "fov_deg": "c.fov_deg",
        "range_m": "c.range_m",
        "installed_on": "c.installed_on",
    },
    filters=("kind", "status"),
    types={"heading_deg": "number", "fov_deg": "number", "range_m": "number", "installed_on": "date"},
    sortable=("device_code", "name"),
    permission="cameras.read",
    scope_kind="cameras",
)
_INCIDENTS = Collection(
    id="incidents",
    title="Incidents",
    description="Incidents where they happened, with their grid and state (no personal data).",
    source="incidents i WHERE true",
    id_column="i.id",
    geometry="i.geom",
    properties={
        "id": "i.id",
        "external_id": "i.external_id",
        "source": "i.source",
        "category": "i.category",
        "risk_colour": "i.risk_colour",
        "status": "i.status",
        "tier": "i.tier",
        "reported_at": "i.reported_at",
        "deadline": "i.deadline",
        "closed_at": "i.closed_at",
        "grid_code": "i.grid_code",
        "village_code": "i.village_code",
        "town_code": "i.town_code",
        "county_code": "i.county_code",
    },
    time_column="i.reported_at",
    filters=(
        "category",
        "status",
        "risk_colour",
        "source",
        "tier",
        "grid_code",
        "village_code",
        "town_code",
        "county_code",
    ),
    types={"id": "integer", "reported_at": "date-time", "deadline": "date-time", "closed_at": "date-time"},
    sortable=("id", "reported_at", "category", "status", "risk_colour", "grid_code", "town_code"),
    permission="incidents.read",
    scope_kind="incidents",
)
STATIC = {c.id: c for c in (_ADMIN, _GRIDS, _CAMERAS, _INCIDENTS)}
VERSIONED_GRIDS = re.compile(r"^grids-v(\d+)$")


def collections(connection: Connection) -> list[Collection]:
    """The fixed collections, and one of grids per boundary version (drafts included)."""
    return list(STATIC.values()) + [_version_grids(version) for version in list_versions(connection)]


def _version_grids(version: Version) -> Collection:
    start = version.effective_from
    when = f", in force from {start.isoformat()}" if start else ""
    return replace(
        _GRIDS,
        id=f"grids-v{version.id}",
        title=f"Grids of version {version.name}",
        description=f"Grids of boundary version {version.name!r} ({version.status}{when}).",
        fixed_version=version.id,
    )


def collection(connection: Connection, collection_id: str) -> Collection:
    if collection_id in STATIC:
        return STATIC[collection_id]
    match = VERSIONED_GRIDS.match(collection_id)
    if match:
        try:
            return _version_grids(find_version(connection, int(match.group(1))))
        except NotFound:
            pass
    raise NotFound(t("no collection {collection_id!r}", collection_id=collection_id), field="collectionId")
