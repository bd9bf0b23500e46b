"""OGC API - Features items: a page of a collection, one feature, a collection's extent.

Features are built as GeoJSON by PostGIS (``json_build_object``), one round trip per page. Pages
are read by keyset: each page ends with a cursor holding its last row's sort keys, and the next
page starts after them (``WHERE (keys) > (cursor) ORDER BY keys LIMIT n``), so the last page of a
million incidents costs what the first does; ``offset`` is still read for old clients.
``numberMatched`` is counted on the first page only (a cursor page would pay the count again).

Coordinates: CRS84 (lon, lat) by default; ``http://www.opengis.net/def/crs/EPSG/0/4490`` (the
storage CRS, CGCS2000) and EPSG:4326 in their official axis order, latitude first, as Part 2
requires.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.boundaries.versions import in_force
from geo_service.errors import NotFound
from geo_service.i18n import t
from geo_service.ogc.collections import CRS84, DEFAULT_LIMIT, MAX_LIMIT, Collection, collection
from geo_service.ogc.cql import filter_sql, parse_filter
from geo_service.ogc.params import (
    BadRequest,
    decode_cursor,
    encode_cursor,
    parse_bbox,
    parse_crs,
    parse_datetime,
    parse_sortby,
)
from geo_service.times import now
from geo_service.vocabulary import STORAGE_SRID


@dataclass(frozen=True)
class PageRequest:
    """What a client asks of a collection's items (raw, as the query gave it)."""

    bbox: str | None = None
    bbox_crs: str | None = None
    datetime: str | None = None
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    cursor: str | None = None
    crs: str | None = None
    filters: dict[str, str] = field(default_factory=dict)  # ?property=value
    filter: str | None = None  # CQL2
    filter_lang: str | None = None
    filter_crs: str | None = None
    sortby: str | None = None


def _version(connection: Connection, c: Collection, when, zone: str) -> list[int] | None:
    """The boundary versions a versioned collection reads: fixed, or each county's in force at an instant."""
    if not c.versioned:
        return None
    if c.fixed_version is not None:
        return [c.fixed_version]
    if when is not None and when[0] != when[1]:
        raise BadRequest(
            t("datetime: {id} answers for an instant (the version then in force), not an interval", id=c.id),
            field="datetime",
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
    asked: PageRequest | None = None,
    *,
    zone: str,
    scope: Jurisdiction | None = None,
) -> dict:
    """A page of a collection's features within ``scope`` as a GeoJSON FeatureCollection (links
    added by the API): ``next_cursor`` is where the next page starts (None on the last)."""
    asked = asked or PageRequest()
    scope = scope or EVERYTHING
    c = collection(connection, collection_id)
    uri, srid, lat_first = parse_crs(asked.crs)
    box = parse_bbox(asked.bbox, asked.bbox_crs)
    when = parse_datetime(asked.datetime, zone)
    unknown = sorted(set(asked.filters) - set(c.filters))
    if unknown:
        raise BadRequest(
            t(
                "{collection_id} cannot be filtered by {unknown}; it can by {value} (or any property with a CQL2 filter)",
                collection_id=collection_id,
                unknown=", ".join(unknown),
                value=", ".join(c.filters) or "nothing",
            ),
            field=unknown[0],
        )
    if not 1 <= asked.limit <= MAX_LIMIT:
        raise BadRequest(
            t("limit: {limit} is not between 1 and {MAX_LIMIT}", limit=asked.limit, MAX_LIMIT=MAX_LIMIT), field="limit"
        )
    if asked.offset < 0:
        raise BadRequest(t("offset: {offset} is negative", offset=asked.offset), field="offset")
    if asked.filter_crs is not None:
        parse_crs(asked.filter_crs, "filter-crs")
    params: dict = {"versions": _version(connection, c, when, zone), "limit": asked.limit + 1, **scope.params()}
    where = f" AND {c.scoped(scope)}" + _where(c, box, when, asked.filters, params)
    if asked.filter:
        condition, bound = filter_sql(parse_filter(asked.filter, asked.filter_lang), c.properties, c.geometry)
        where += f" AND {condition}"
        params.update(bound)
    keys = [(c.properties[name], descending) for name, descending in parse_sortby(asked.sortby, c)]
    if c.id_column not in [expression for expression, _ in keys]:
        keys.append((c.id_column, False))
    order = ", ".join(f"{expression}{' DESC' if descending else ''}" for expression, descending in keys)
    matched = None
    if asked.cursor:
        where += " AND " + _after(keys, decode_cursor(asked.cursor, len(keys)), params)
    else:
        matched = connection.execute(text(f"SELECT count(*) FROM {c.source}{where}"), params).scalar_one()
    paging = "LIMIT :limit" if asked.cursor else "LIMIT :limit OFFSET :offset"
    params["offset"] = asked.offset
    rows = connection.execute(
        text(
            f"SELECT {_feature_sql(c, srid, lat_first)} AS feature, "
            f"json_build_array({', '.join(expression for expression, _ in keys)}) AS keys "
            f"FROM {c.source}{where} ORDER BY {order} {paging}"
        ),
        params,
    ).all()
    more = len(rows) > asked.limit
    rows = rows[: asked.limit]
    page = {
        "type": "FeatureCollection",
        "features": [row.feature for row in rows],
        "numberReturned": len(rows),
        "crs": uri,
        "next_cursor": encode_cursor(rows[-1].keys) if more else None,
    }
    if matched is not None:
        page["numberMatched"] = matched
    return page


def _after(keys: list[tuple[str, bool]], values: list, params: dict) -> str:
    """Rows after the cursor's in the order of ``keys``: for keys k1..kn, the rows where k1..k(i-1)
    equal the cursor's and ki is past it, for some i."""
    for i, value in enumerate(values):
        params[f"after{i}"] = value
    alternatives = []
    for i, (expression, descending) in enumerate(keys):
        equal = [f"{keys[j][0]} = :after{j}" for j in range(i)]
        alternatives.append(" AND ".join([*equal, f"{expression} {'<' if descending else '>'} :after{i}"]))
    return "(" + " OR ".join(f"({a})" for a in alternatives) + ")"


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
        raise NotFound(
            t("no feature {feature_id!r} in {collection_id}", feature_id=feature_id, collection_id=collection_id),
            field="featureId",
        )
    row = connection.execute(
        text(
            f"SELECT {_feature_sql(c, srid, lat_first)} FROM {c.source} AND {c.id_column}::text = :fid "
            f"AND {c.scoped(scope)}"
        ),
        params,
    ).scalar()
    if row is None:
        raise NotFound(
            t("no feature {feature_id!r} in {collection_id}", feature_id=feature_id, collection_id=collection_id),
            field="featureId",
        )
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
