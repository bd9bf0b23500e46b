"""Serving tiles: which boundary versions a tile is drawn for, its validator and how long it keeps.

Tiles drawn from boundaries carry the versions' ids (one per county) in their address (TileJSON
and the style pin them) and in their ETag, so any county publishing a version changes both and a
browser never keeps old grids. A tile asked for without versions is drawn for those in force now
and must be revalidated (``no-cache``): its ETag then changes exactly when any county's does.

A boundary tile at pinned versions, once drawn, is kept (``geo_service.tiles.cache``) and found
again without reading the database (:meth:`TileService.kept_tile`): the request is checked (layer,
permission, place, parameters) in memory, the versions are known by id
(``geo_service.tiles.pinned``), and the asker's jurisdiction is part of the key.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.auth.principal import Principal
from geo_service.boundaries.versions import InForce, VersionInForce, in_force, published_version
from geo_service.coordinates.datum import parse_datum
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.tiles.cache import KeptTile, TileCache
from geo_service.tiles.layers import Layer
from geo_service.tiles.mvt import Tile, bind_values, render_tile
from geo_service.tiles.pinned import PublishedVersions
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
    kept: KeptTile  # the bytes and validator (and gzip encoding), as kept or just drawn
    cache_control: str

    @property
    def body(self) -> bytes:
        return self.kept.body

    @property
    def etag(self) -> str:
        return self.kept.etag


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
        self.published = PublishedVersions(engine)
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
        return InForce(_one_per_county([published_version(connection, v) for v in set(version_ids)]))

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
        _known_parameters(layer, query)
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
        ask = self._ask(layer_name, z, x, y, query, principal)
        with self.engine.connect() as connection:
            boundaries = self._boundaries(connection, ask, query)
            values = [self.parameters(connection, layer, query) for layer in ask.layers]
            stamp = self._stamp(ask, boundaries, values)
            key = (stamp, ask.tile)
            kept = self.cache.get(key) if ask.fixed and self.cache is not None else None
            if kept is None:
                # Layers are concatenated: a vector tile is a sequence of layers, each its own message.
                body = b"".join(
                    render_tile(
                        connection,
                        layer,
                        ask.tile,
                        version_ids=boundaries.ids,
                        values=layer_values,
                        datum=ask.datum,
                        place=self.place,
                        scope=ask.scope,
                    )
                    for layer, layer_values in zip(ask.layers, values)
                )
                # A boundary tile's validator is its address's meaning (known before drawing it);
                # any other's is its content.
                digest = hashlib.blake2b(stamp.encode(), digest_size=10) if ask.fixed else None
                kept = KeptTile(body, f'"{(digest or hashlib.blake2b(body, digest_size=12)).hexdigest()}"')
                if ask.fixed and self.cache is not None:
                    self.cache.put(key, kept)
        return TileAnswer(kept, ask.cache_control)

    def kept_tile(
        self,
        layer_name: str,
        z: int,
        x: int,
        y: int,
        query: Mapping[str, list[str]],
        principal: Principal | None = None,
    ) -> TileAnswer | None:
        """The tile :meth:`tile` would answer, if it is kept and can be found without reading the
        database (boundary layers at pinned versions already seen); None otherwise. Bad requests
        and refusals are raised as :meth:`tile` raises them."""
        ask = self._ask(layer_name, z, x, y, query, principal)
        if self.cache is None or not ask.fixed or not ask.pinned or any(layer.parameters for layer in ask.layers):
            return None
        versions = self.published.known(ask.pinned)
        if versions is None:
            return None
        boundaries = InForce(_one_per_county(versions))
        kept = self.cache.get((self._stamp(ask, boundaries, [{} for _ in ask.layers]), ask.tile))
        return None if kept is None else TileAnswer(kept, ask.cache_control)

    def _ask(
        self, layer_name: str, z: int, x: int, y: int, query: Mapping[str, list[str]], principal: Principal | None
    ) -> TileAsk:
        """What a tile request asks for, checked without reading the database."""
        layers = self.layers_of(layer_name)
        if principal is not None:
            for layer in layers:
                principal.require(layer.permission)
        for layer in layers:
            _known_parameters(layer, query)
        at = (query.get("at") or [None])[-1]
        if at not in (None, ""):  # checked even where pinned versions make it moot, as always
            parse_moment(at, "at", self.place.timezone)
        scope = principal.jurisdiction if principal is not None else None
        return TileAsk(
            layers,
            Tile.checked(z, x, y),
            display_datum((query.get("datum") or [None])[-1]),
            sorted(set(_ids_param(query, "version"))),
            scope,
        )

    def _boundaries(self, connection: Connection, ask: TileAsk, query: Mapping[str, list[str]]) -> InForce:
        """The versions a tile is drawn for: those it pins (kept once read), else those in force ``at``."""
        if ask.pinned:
            return InForce(_one_per_county(self.published.read(connection, ask.pinned)))
        return self.version_asked(connection, query)

    @staticmethod
    def _stamp(ask: TileAsk, boundaries: InForce, values: list[dict[str, Any]]) -> str:
        """What a tile's contents depend on besides its place: the layers' declarations, the
        boundary versions (their contents), the datum, the parameters and who sees it (their
        jurisdiction's code, department and area)."""
        scope = ask.scope
        who = "" if scope is None else f"{scope.code}-{scope.department or ''}-{_area_digest(scope.area)}"
        return f"{'-'.join(layer.digest for layer in ask.layers)}-{boundaries.cache_key}-{ask.datum}-{who}-{values!r}"


@dataclass(frozen=True)
class TileAsk:
    """A tile request, checked: its layers, place, datum, pinned versions and the asker's jurisdiction."""

    layers: list[Layer]
    tile: Tile
    datum: str
    pinned: list[int]
    scope: Jurisdiction | None

    @property
    def fixed(self) -> bool:
        """Drawn from boundaries alone: the same until a version is published (and so kept)."""
        return all(layer.boundaries for layer in self.layers)

    @property
    def cache_control(self) -> str:
        # "private": what a tile holds depends on who asks, so no shared cache may keep it.
        if any(layer.live for layer in self.layers):
            return "private, max-age=30"
        if self.fixed:
            return "private, max-age=86400, immutable" if self.pinned else "no-cache"
        return "private, max-age=300"


@lru_cache(maxsize=256)
def _area_digest(area: bytes | None) -> str:
    """A short digest of a jurisdiction's area (the same area object is hashed once)."""
    return "" if area is None else hashlib.blake2b(area, digest_size=8).hexdigest()


def _one_per_county(versions: list[VersionInForce]) -> tuple[VersionInForce, ...]:
    """The versions ordered by county; InvalidInput when two are of one county."""
    ordered = sorted(versions, key=lambda v: v.county_code)
    counties = [v.county_code for v in ordered]
    twice = sorted({c for c in counties if counties.count(c) > 1})
    if twice:
        raise InvalidInput(
            t(
                "version: two versions of county {value} were given; a tile is drawn for one per county",
                value=twice[0][:6],
            ),
            field="version",
        )
    return tuple(ordered)


def _known_parameters(layer: Layer, query: Mapping[str, list[str]]) -> None:
    """InvalidInput naming the first query parameter ``layer`` does not take."""
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
