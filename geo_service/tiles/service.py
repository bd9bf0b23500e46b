"""Serving tiles: which boundary versions a tile is drawn for, its validator and how long it keeps.

Tiles drawn from boundaries carry the versions' ids (one per county) in their address (TileJSON
and the style pin them) and in their ETag, so any county publishing a version changes both and a
browser never keeps old grids. A tile asked for without versions is drawn for those in force now
and must be revalidated (``no-cache``): its ETag then changes exactly when any county's does.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth.principal import Principal
from geo_service.boundaries.versions import InForce, in_force, published_version
from geo_service.coordinates.datum import parse_datum
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.tiles.cache import TileCache
from geo_service.tiles.layers import Layer
from geo_service.tiles.mvt import Tile, bind_values, render_tile
from geo_service.times import as_aware, parse_moment
from geo_service.vocabulary import DISPLAY_DATUMS

# The query parameters every tile address may carry besides the layer's own.
RESERVED = {"version", "at", "datum"}
COUNTY_BOUNDS = text("""
    SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
      FROM (SELECT ST_Extent(geom) AS e FROM admin_units WHERE version_id = ANY(:versions) AND level = 'county') b
""")
CHOICES_TTL_S = 60.0
COMBINED = "boundaries"


@dataclass(frozen=True)
class TileAnswer:
    body: bytes
    etag: str
    cache_control: str


def display_datum(raw: str | None) -> str:
    """The datum a client draws in; cgcs2000 is drawn as wgs84 (they differ by under a metre)."""
    if raw is None or raw == "":
        return "wgs84"
    try:
        datum = parse_datum(raw)
    except ValueError as e:
        raise InvalidInput(t("datum: {e}", e=e), field="datum") from None
    return "wgs84" if datum == "cgcs2000" else datum


class TileService:
    """Tiles, TileJSON and style for the declared layers over one database, in one county's zone
    and metric projection (``place``: the app's ``settings.place``)."""

    def __init__(self, engine: Engine, layers: dict[str, Layer], place: PlaceSettings, *, cache_bytes: int = 0) -> None:
        self.engine = engine
        self.layers = layers
        self.place = place
        self.cache = TileCache(cache_bytes) if cache_bytes > 0 else None
        self._choices: dict[str, tuple[float, set[str]]] = {}

    def layer(self, name: str) -> Layer:
        try:
            return self.layers[name]
        except KeyError:
            raise NotFound(
                t("no map layer {name!r}; layers: {layers}", name=name, layers=", ".join(self.layers)), field="layer"
            ) from None

    def version(
        self, connection: Connection, version_ids: list[int] | None = None, at: datetime | None = None
    ) -> InForce:
        """The published versions ``version_ids`` (at most one per county), else those in force at
        ``at`` (default now; without a zone, the county's time)."""
        if not version_ids:
            return in_force(connection, as_aware(at, self.place.timezone))
        versions = sorted((published_version(connection, v) for v in set(version_ids)), key=lambda v: v.county_code)
        counties = [v.county_code for v in versions]
        twice = sorted({c for c in counties if counties.count(c) > 1})
        if twice:
            raise InvalidInput(
                t(
                    "version: two versions of county {value} were given; a tile is drawn for one per county",
                    value=twice[0][:6],
                ),
                field="version",
            )
        return InForce(tuple(versions))

    def version_asked(self, connection: Connection, query: Mapping[str, list[str]]) -> InForce:
        """The versions a request's query names: ``version`` (ids, comma-separated), else those in
        force ``at``."""
        at = (query.get("at") or [None])[-1]
        return self.version(
            connection,
            _ids_param(query, "version"),
            None if at in (None, "") else parse_moment(at, "at", self.place.timezone),
        )

    def county_bounds(self, connection: Connection, boundaries: InForce) -> list[float] | None:
        row = connection.execute(COUNTY_BOUNDS, {"versions": boundaries.ids}).first()
        return [round(v, 6) for v in row] if row and row[0] is not None else None

    def _allowed(self, connection: Connection, layer: Layer, name: str) -> set[str] | None:
        parameter = layer.parameters[name]
        if parameter.choices:
            return set(parameter.choices)
        if not parameter.choices_sql:
            return None
        cached = self._choices.get(parameter.choices_sql)
        if cached is None or time.monotonic() - cached[0] > CHOICES_TTL_S:
            values = {str(v) for (v,) in connection.execute(text(parameter.choices_sql))}
            cached = self._choices[parameter.choices_sql] = (time.monotonic(), values)
        return cached[1]

    def parameters(self, connection: Connection, layer: Layer, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """The layer's parameters from a request's query (lists of raw values), checked."""
        unknown = sorted(set(query) - set(layer.parameters) - RESERVED)
        if unknown:
            takes = ", ".join(sorted(set(layer.parameters) | RESERVED))
            raise InvalidInput(
                t(
                    "{value}: layer {name!r} takes no such parameter (it takes {takes})",
                    value=unknown[0],
                    name=layer.name,
                    takes=takes,
                ),
                field=unknown[0],
            )
        values = {}
        for name, parameter in layer.parameters.items():
            raw = query.get(name)
            if raw:
                allowed = self._allowed(connection, layer, name) if parameter.type.startswith("string") else None
                values[name] = parameter.parse(
                    raw if parameter.type == "string_list" else raw[-1], allowed, zone=self.place.timezone
                )
        bound = bind_values(layer, values, self.place)
        if bound.get("start") is not None and bound.get("end") is not None and bound["start"] >= bound["end"]:
            raise InvalidInput(
                t("end: {end} is not after start {start}", end=values["end"], start=values["start"]), field="end"
            )
        return values

    def style_filters(self, connection: Connection, query: Mapping[str, list[str]]) -> dict[str, str]:
        """The layers' parameters a style's tile addresses carry (raw, as given), each checked by
        every layer that takes them all."""
        names = {name for layer in self.layers.values() for name in layer.parameters}
        filters = {name: query[name][-1] for name in names if query.get(name)}
        if filters:
            for layer in self.layers.values():
                if set(filters) <= set(layer.parameters):
                    self.parameters(connection, layer, {k: [v] for k, v in filters.items()})
        return filters

    def layers_of(self, name: str) -> list[Layer]:
        """The layers a tile address names: one declared layer, or :data:`COMBINED` (every boundary
        layer in one tile, for clients that draw one vector-tile source, as QGIS does)."""
        if name == COMBINED:
            return [layer for layer in self.layers.values() if layer.boundaries]
        return [self.layer(name)]

    def tile(
        self,
        layer_name: str,
        z: int,
        x: int,
        y: int,
        query: Mapping[str, list[str]],
        principal: Principal | None = None,
    ) -> TileAnswer:
        """One tile; with a ``principal``, only if their role may see the layers, and only the
        features of their jurisdiction (the validator and caching then are the user's own)."""
        layers = self.layers_of(layer_name)
        if principal is not None:
            for layer in layers:
                principal.require(layer.permission)
        scope = principal.jurisdiction if principal is not None else None
        tile = Tile.checked(z, x, y)
        datum = display_datum((query.get("datum") or [None])[-1])
        pinned = _ids_param(query, "version")
        fixed = all(layer.boundaries for layer in layers)
        with self.engine.connect() as connection:
            boundaries = self.version_asked(connection, query)
            values = [self.parameters(connection, layer, query) for layer in layers]
            stamp = (
                f"{'-'.join(layer.digest for layer in layers)}-{boundaries.cache_key}-{datum}"
                f"-{scope.code if scope is not None else ''}-{values!r}"
            )
            key = (stamp, tile.z, tile.x, tile.y)
            body = self.cache.get(key) if fixed and self.cache is not None else None
            if body is None:
                # Layers are concatenated: a vector tile is a sequence of layers, each its own message.
                body = b"".join(
                    render_tile(
                        connection,
                        layer,
                        tile,
                        version_ids=boundaries.ids,
                        values=layer_values,
                        datum=datum,
                        place=self.place,
                        scope=scope,
                    )
                    for layer, layer_values in zip(layers, values)
                )
                if fixed and self.cache is not None:
                    self.cache.put(key, body)
        if fixed:
            etag = f'"{hashlib.blake2b(stamp.encode(), digest_size=10).hexdigest()}"'
        else:
            etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        # "private": what a tile holds depends on who asks, so no shared cache may keep it.
        if any(layer.live for layer in layers):
            cache = "private, max-age=30"
        elif all(layer.boundaries for layer in layers):
            cache = "private, max-age=86400, immutable" if pinned else "no-cache"
        else:
            cache = "private, max-age=300"
        return TileAnswer(body, etag, cache)


def _ids_param(query: Mapping[str, list[str]], name: str) -> list[int]:
    """Boundary version ids, comma-separated (``version=3,7``); empty when not given."""
    raw = (query.get(name) or [None])[-1]
    if raw in (None, ""):
        return []
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) > 1000 or not all(part.isdigit() and len(part) <= 9 for part in parts):
        raise InvalidInput(
            t(
                "{name}: {value!r} is not a list of boundary version ids (whole numbers, comma-separated)",
                name=name,
                value=raw[:80],
            ),
            field=name,
        )
    return [int(part) for part in parts]


__all__ = ["COMBINED", "DISPLAY_DATUMS", "TileAnswer", "TileService", "display_datum"]
