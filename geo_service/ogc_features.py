"""OGC API - Features (Part 1 Core + GeoJSON, Part 2 CRS by reference) over the service's tables.

Collections are declared once here (table, id, properties, time column, filters); the API
(``geo_service.api.ogc_features``) is a thin face over :func:`items` and :func:`item`. Features are
built as GeoJSON by PostGIS (``json_build_object``), one round trip per page.

Coordinates: CRS84 (lon, lat) by default; ``http://www.opengis.net/def/crs/EPSG/0/4490`` (the
storage CRS, CGCS2000) and EPSG:4326 in their official axis order, latitude first, as Part 2
requires. Personal data (reporters' names and phones) is never served here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.boundaries.versions import Version, find_version, in_force, list_versions
from geo_service.coordinates.bbox import BBox
from geo_service.coordinates.bbox import parse_bbox as parse_lonlat_bbox
from geo_service.errors import InvalidInput, NotFound
from geo_service.times import now, parse_moment
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
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100


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
    versioned: bool = False  # rows belong to a boundary version
    fixed_version: int | None = None
    permission: str = "boundaries.read"
    scope_kind: str = "grids"  # which of Jurisdiction's predicates limits the rows
    extra: dict = field(default_factory=dict)

    def scoped(self, scope: Jurisdiction) -> str:
        """The rows of this collection within ``scope``, as a condition on the source's aliases."""
        alias = self.id_column.split(".")[0]
        if self.scope_kind == "cameras":
            return scope.covers(self.geometry)
        return getattr(scope, self.scope_kind)(alias)


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
    filters=("level", "kind", "parent_code"),
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
    filters=("level", "kind", "village_code", "parent_code"),
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
    return Collection(
        id=f"grids-v{version.id}",
        title=f"Grids of version {version.name}",
        description=f"Grids of boundary version {version.name!r} ({version.status}{when}).",
        source=_GRID_SOURCE,
        id_column="g.code",
        geometry="g.geom",
        properties=_GRID_PROPERTIES,
        filters=_GRIDS.filters,
        versioned=True,
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
    raise NotFound(f"no collection {collection_id!r}", field="collectionId")


class BadRequest(InvalidInput):
    """OGC API answers a bad parameter with 400."""

    status_code = 400


def parse_crs(value: str | None, field_name: str = "crs") -> tuple[str, int, bool]:
    """The CRS a request names, as its URI, SRID and axis order. Besides the URIs, the short forms
    clients send are read: ``EPSG:4490``, the safe CURIE ``[EPSG:4490]``, ``urn:ogc:def:crs:EPSG::4490``
    and ``OGC:CRS84``."""
    uri = (value or CRS84).strip()
    curie = uri[1:-1] if uri.startswith("[") and uri.endswith("]") else uri
    if curie.lower().startswith("urn:ogc:def:crs:"):
        parts = curie.split(":")
        curie = f"{parts[4]}:{parts[-1]}" if len(parts) >= 6 else curie
    authority, _, code = curie.partition(":")
    if authority.upper() == "EPSG" and code.isdigit():
        uri = EPSG.format(code)
    elif authority.upper() == "OGC" and code.upper() == "CRS84":
        uri = CRS84
    if uri not in SUPPORTED_CRS:
        raise BadRequest(
            f"{field_name}: {value!r} is not supported; use one of {', '.join(SUPPORTED_CRS)}", field=field_name
        )
    srid, lat_first = SUPPORTED_CRS[uri]
    return uri, srid, lat_first


def parse_bbox(value: str | None, bbox_crs: str | None) -> BBox | None:
    """``minx,miny,maxx,maxy`` in ``bbox-crs`` (lat first for EPSG:4490/4326), as lon/lat; a
    bad box is a 400 naming ``bbox``, an unsupported ``bbox-crs`` one naming ``bbox-crs``."""
    if value is None:
        return None
    _, _, lat_first = parse_crs(bbox_crs, "bbox-crs")
    return parse_lonlat_bbox(value, lat_first=lat_first, error=BadRequest)


def parse_datetime(value: str | None, zone: str) -> tuple[datetime | None, datetime | None] | None:
    """An instant (start == end) or an interval ``a/b`` with ``..`` for an open end."""
    if value is None:
        return None

    def one(part: str) -> datetime | None:
        if part in ("..", ""):
            return None
        return parse_moment(part, "datetime", zone, error=BadRequest)

    if "/" in value:
        start, _, end = value.partition("/")
        interval = one(start), one(end)
        if interval[0] and interval[1] and interval[0] > interval[1]:
            raise BadRequest(f"datetime: {value!r} ends before it starts", field="datetime")
        return interval
    instant = one(value)
    if instant is None:
        raise BadRequest("datetime: an instant cannot be '..'", field="datetime")
    return instant, instant


def _version(connection: Connection, c: Collection, when, zone: str) -> list[int] | None:
    """The boundary versions a versioned collection reads: fixed, or each county's in force at an instant."""
    if not c.versioned:
        return None
    if c.fixed_version is not None:
        return [c.fixed_version]
    if when is not None and when[0] != when[1]:
        raise BadRequest(
            f"datetime: {c.id} answers for an instant (the version then in force), not an interval", field="datetime"
        )
    return in_force(connection, when[0] if when else now(zone)).ids


def _where(c: Collection, bbox, when, filters: dict[str, str], params: dict) -> str:
    clauses = []
    if bbox is not None:
        envelope = f"ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, {STORAGE_SRID})"
        clauses.append(f"{c.geometry} && {envelope} AND ST_Intersects({c.geometry}, {envelope})")
        params.update(dict(zip(("minx", "miny", "maxx", "maxy"), bbox)))
    if when is not None and c.time_column:
        if when[0] is not None:
            clauses.append(f"{c.time_column} >= :t0")
            params["t0"] = when[0]
        if when[1] is not None:
            clauses.append(f"{c.time_column} <= :t1")
            params["t1"] = when[1]
    for i, (name, value) in enumerate(sorted(filters.items())):
        clauses.append(f"{c.properties[name]}::text = :f{i}")
        params[f"f{i}"] = value
    return "".join(f" AND {clause}" for clause in clauses)


def _feature_sql(c: Collection, srid: int, lat_first: bool) -> str:
    geometry = c.geometry if srid == STORAGE_SRID else f"ST_Transform({c.geometry}, {srid})"
    if lat_first:
        geometry = f"ST_FlipCoordinates({geometry})"
    props = ", ".join(f"'{name}', {expr}" for name, expr in c.properties.items())
    return (
        f"json_build_object('type', 'Feature', 'id', {c.id_column}, "
        f"'geometry', ST_AsGeoJSON({geometry}, 8)::json, 'properties', json_build_object({props}))"
    )


def items(
    connection: Connection,
    collection_id: str,
    *,
    bbox: str | None = None,
    bbox_crs: str | None = None,
    datetime_value: str | None = None,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    crs: str | None = None,
    filters: dict[str, str] | None = None,
    zone: str,
    scope: Jurisdiction | None = None,
) -> dict:
    """A page of a collection's features within ``scope`` as a GeoJSON FeatureCollection (links
    added by the API)."""
    scope = scope or EVERYTHING
    c = collection(connection, collection_id)
    uri, srid, lat_first = parse_crs(crs)
    box = parse_bbox(bbox, bbox_crs)
    when = parse_datetime(datetime_value, zone)
    unknown = sorted(set(filters or {}) - set(c.filters))
    if unknown:
        raise BadRequest(
            f"{collection_id} cannot be filtered by {', '.join(unknown)}; "
            f"it can by {', '.join(c.filters) or 'nothing'}",
            field=unknown[0],
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: {limit} is not between 1 and {MAX_LIMIT}", field="limit")
    if offset < 0:
        raise BadRequest(f"offset: {offset} is negative", field="offset")
    params: dict = {"versions": _version(connection, c, when, zone), "limit": limit, "offset": offset, **scope.params()}
    where = f" AND {c.scoped(scope)}" + _where(c, box, when, filters or {}, params)
    matched = connection.execute(text(f"SELECT count(*) FROM {c.source}{where}"), params).scalar_one()
    rows = (
        connection.execute(
            text(
                f"SELECT {_feature_sql(c, srid, lat_first)} FROM {c.source}{where} ORDER BY {c.id_column} "
                "LIMIT :limit OFFSET :offset"
            ),
            params,
        )
        .scalars()
        .all()
    )
    return {
        "type": "FeatureCollection",
        "features": rows,
        "numberMatched": matched,
        "numberReturned": len(rows),
        "crs": uri,
    }


def item(
    connection: Connection,
    collection_id: str,
    feature_id: str,
    *,
    crs: str | None = None,
    zone: str,
    scope: Jurisdiction | None = None,
) -> dict:
    """One feature; NotFound if it does not exist or lies outside ``scope``."""
    scope = scope or EVERYTHING
    c = collection(connection, collection_id)
    uri, srid, lat_first = parse_crs(crs)
    params = {"versions": _version(connection, c, None, zone), "fid": feature_id, **scope.params()}
    if c.id_column == "i.id" and not feature_id.isdigit():
        raise NotFound(f"no feature {feature_id!r} in {collection_id}", field="featureId")
    row = connection.execute(
        text(
            f"SELECT {_feature_sql(c, srid, lat_first)} FROM {c.source} AND {c.id_column}::text = :fid "
            f"AND {c.scoped(scope)}"
        ),
        params,
    ).scalar()
    if row is None:
        raise NotFound(f"no feature {feature_id!r} in {collection_id}", field="featureId")
    return {**row, "crs": uri}


def extent(connection: Connection, c: Collection, zone: str, scope: Jurisdiction | None = None) -> dict:
    """The bounding box (CRS84) of the collection's rows within ``scope`` and, for incidents, their time span."""
    scope = scope or EVERYTHING
    params = {"versions": _version(connection, c, None, zone), **scope.params()}
    source = f"{c.source} AND {c.scoped(scope)}"
    box = connection.execute(text(f"SELECT ST_Extent({c.geometry}) FROM {source}"), params).scalar()
    result: dict = {}
    if box:
        numbers = [float(v) for v in re.findall(r"-?[\d.]+", box)]
        result["spatial"] = {"bbox": [numbers], "crs": CRS84}
    if c.time_column:
        start, end = connection.execute(
            text(f"SELECT min({c.time_column}), max({c.time_column}) FROM {source}"), params
        ).one()
        result["temporal"] = {
            "interval": [[start.isoformat() if start else None, end.isoformat() if end else None]],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    return result
