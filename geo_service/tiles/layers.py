"""Map layers declared as data: one TOML file per layer in ``tiles/``.

A declaration names its source (a ``table`` with an optional ``where``, or an ``sql`` query),
its zoom range, the properties its features carry, the query parameters it accepts and its
default MapLibre style. The vocabulary follows martin's table sources (``geometry_column``,
``id_column``, ``minzoom``, ``maxzoom``, ``extent``, ``buffer``, ``properties``). Files are read
and checked once at start; a broken one is refused with its file and field named.

Inside a source, these bind parameters are available:

``:bbox``      the tile's area (plus its buffer) as a CGCS2000 rectangle: filter with ``geom && :bbox``
``:z``         the zoom level
``:versions``  the ids of the boundary versions the tile is drawn for (one per county): ``version_id = ANY(:versions)``
``:zone``      the county's time zone (settings: ``place.timezone``), e.g. ``AT TIME ZONE :zone``
``:metric_srid``   the metric projection where the tile lies (``geo_service.coordinates.projection``)
``:storage_srid``  the SRID everything is stored in (``geo_service.vocabulary.STORAGE_SRID``)
``:<name>``    each declared parameter (NULL when the request does not give it)

A layer's ``title`` is shown to people (the map page's layer list): a text, or the same in both
languages, ``title = { zh = "网格", en = "Grids" }``; the style document names each layer in its
reader's language.

A parameter's allowed values are its ``choices``, a ``choices_sql`` query, or a list of the
service's own words named by ``vocabulary`` (``statuses``, ``risk_colours``, ...): those come from
``geo_service.vocabulary``, so a layer never keeps its own copy.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo_service import vocabulary
from geo_service.errors import InvalidInput
from geo_service.i18n import LANGUAGES, t
from geo_service.settings import PROJECT_ROOT
from geo_service.times import parse_moment

LAYERS_DIR = PROJECT_ROOT / "tiles"
GEOMETRY_TYPES = ("point", "line", "polygon")
PROPERTY_TYPES = {"string": "String", "number": "Number", "boolean": "Boolean"}
PARAMETER_TYPES = ("string", "string_list", "integer", "datetime")
STYLE_TYPES = ("fill", "line", "circle", "fill-extrusion", "heatmap")
# Bind parameters every source may use, so no declared parameter may take their names.
RESERVED_PARAMETERS = {
    "bbox",
    "z",
    "x",
    "y",
    "version",
    "versions",
    "at",
    "datum",
    "zone",
    "metric_srid",
    "storage_srid",
}
# The service's words a parameter's choices may name (``vocabulary = "statuses"``).
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "statuses": vocabulary.STATUSES,
    "risk_colours": vocabulary.RISK_COLOURS,
    "tiers": vocabulary.TIERS,
    "grid_kinds": vocabulary.GRID_KINDS,
    "camera_states": vocabulary.CAMERA_STATES,
}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_LAYER_NAMES = {"boundaries", "style"}  # the combined boundary tiles and the style document
_KNOWN = {
    "top": {
        "title",
        "description",
        "minzoom",
        "maxzoom",
        "geometry_type",
        "boundaries",
        "live",
        "permission",
        "extent",
        "buffer",
        "properties",
        "tooltip",
        "source",
        "parameters",
        "style",
    },
    "source": {"table", "where", "sql", "geometry_column", "id_column"},
    "parameter": {"type", "description", "choices", "choices_sql", "vocabulary", "default", "example"},
    "style": {"id", "type", "paint", "layout", "filter", "minzoom", "maxzoom"},
}


class LayerError(ValueError):
    """A layer file that cannot be served: names the file, the field and what is wrong."""

    def __init__(self, path: Path, field_name: str, reason: str) -> None:
        super().__init__(f"{path.name}: {field_name}: {reason}")
        self.path = path
        self.field = field_name
        self.reason = reason


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str = ""
    choices: tuple[str, ...] | None = None
    choices_sql: str | None = None
    example: str | None = None

    def parse(self, raw: str | list[str] | None, allowed: set[str] | None = None, *, zone: str) -> Any:
        """The value a request's query parameter stands for; InvalidInput naming it if bad. A time
        (a date means its midnight) without a zone is the county's (``zone``)."""
        if raw is None or raw == "" or raw == []:
            return None
        values = raw if isinstance(raw, list) else [raw]
        if self.type == "string_list":
            items = [v.strip() for value in values for v in value.split(",") if v.strip()]
            unknown = [v for v in items if allowed is not None and v not in allowed]
            if unknown:
                raise InvalidInput(
                    t(
                        "{name}: unknown value {value}; expected some of {value2} (comma-separated)",
                        name=self.name,
                        value=", ".join(map(repr, unknown)),
                        value2=", ".join(sorted(allowed or ())),
                    ),
                    field=self.name,
                )
            return items or None
        value = values[-1].strip()
        if self.type == "integer":
            try:
                return int(value)
            except ValueError:
                raise InvalidInput(
                    t("{name}: {value!r} is not a whole number", name=self.name, value=value), field=self.name
                ) from None
        if self.type == "datetime":
            return parse_moment(value, self.name, zone)
        if allowed is not None and value not in allowed:
            raise InvalidInput(
                t(
                    "{name}: unknown value {value!r}; expected one of {allowed}",
                    name=self.name,
                    value=value,
                    allowed=", ".join(sorted(allowed)),
                ),
                field=self.name,
            )
        return value


@dataclass(frozen=True, eq=False)  # hashed by identity: tile SQL is cached per layer
class Layer:
    """One declared map layer. ``title`` is its title for readers of either language (TileJSON,
    the layer list: ``网格 (Grids)``); ``titles`` has it in each language."""

    name: str
    path: Path
    title: str
    description: str
    minzoom: int
    maxzoom: int
    geometry_type: str
    boundaries: bool  # drawn from the boundary version in force: tiles change with it
    live: bool  # data that changes by the minute (incidents): short caching
    extent: int
    buffer: int
    properties: dict[str, str]
    tooltip: tuple[str, ...]
    source_sql: str
    geometry_column: str
    id_column: str | None
    parameters: dict[str, Parameter]
    style_layers: tuple[dict, ...]
    digest: str  # of the declaration: part of every tile's validator
    style: dict = field(default_factory=dict)  # folium hints derived from the first style layer
    permission: str = "boundaries.read"  # what a user's role needs to see the layer
    titles: dict[str, str] = field(default_factory=dict)  # {"zh": ..., "en": ...}

    def title_in(self, language: str) -> str:
        """The layer's title in ``language`` (``zh`` or ``en``)."""
        return self.titles.get(language) or self.title


def _require(path: Path, data: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in data:
        raise LayerError(path, f"{where}{key}", "is required")
    value = data[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise LayerError(path, f"{where}{key}", f"must be a {names}, not {type(value).__name__}")
    return value


def _unknown(path: Path, data: dict, allowed: set[str], where: str = "") -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise LayerError(path, f"{where}{extra[0]}", f"is not a known field (known: {', '.join(sorted(allowed))})")


def _titles(path: Path, data: dict, name: str) -> dict[str, str]:
    """The layer's title in each language: one text for both, or a ``{zh, en}`` table."""
    title = data.get("title", name)
    if isinstance(title, str) and title:
        return {language: title for language in LANGUAGES}
    if (
        isinstance(title, dict)
        and set(title) == set(LANGUAGES)
        and all(isinstance(v, str) and v for v in title.values())
    ):
        return {language: title[language] for language in LANGUAGES}
    raise LayerError(path, "title", 'must be a text or a title in each language: { zh = "...", en = "..." }')


def _zoom(path: Path, data: dict, key: str, default: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 24:
        raise LayerError(path, key, f"must be a whole number from 0 to 24, not {value!r}")
    return value


def _source(path: Path, data: dict) -> tuple[str, str, str | None]:
    source = _require(path, data, "source", dict)
    _unknown(path, source, _KNOWN["source"], "source.")
    if ("table" in source) == ("sql" in source):
        raise LayerError(path, "source", "give either a table or an sql query, not both or neither")
    geometry = source.get("geometry_column", "geom")
    ident = source.get("id_column")
    if "table" in source:
        table = _require(path, source, "table", str, "source.")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?", table):
            raise LayerError(path, "source.table", f"{table!r} is not a plain table or view name")
        where = source.get("where")
        if where is not None and not isinstance(where, str):
            raise LayerError(path, "source.where", "must be an SQL condition in a string")
        sql = f"SELECT * FROM {table} WHERE {geometry} && :bbox" + (f" AND ({where})" if where else "")
    else:
        sql = _require(path, source, "sql", str, "source.")
        if ":bbox" not in sql:
            raise LayerError(path, "source.sql", "must filter by the tile's area, e.g. WHERE geom && :bbox")
    if ";" in sql.strip().rstrip(";"):
        raise LayerError(path, "source", "must be a single query (no ';')")
    return sql.strip().rstrip(";"), geometry, ident


def _parameters(path: Path, data: dict, sql: str) -> dict[str, Parameter]:
    out = {}
    for name, spec in data.get("parameters", {}).items():
        where = f"parameters.{name}."
        if not _NAME.match(name) or name in RESERVED_PARAMETERS:
            raise LayerError(path, f"parameters.{name}", "must be a lower-case name not reserved for tiles")
        if not isinstance(spec, dict):
            raise LayerError(path, f"parameters.{name}", "must be a table of type, description, ...")
        _unknown(path, spec, _KNOWN["parameter"], where)
        kind = _require(path, spec, "type", str, where)
        if kind not in PARAMETER_TYPES:
            raise LayerError(path, f"{where}type", f"{kind!r} is not one of {', '.join(PARAMETER_TYPES)}")
        if f":{name}" not in sql:
            raise LayerError(path, f"parameters.{name}", f"the source never uses :{name}")
        choices = spec.get("choices")
        if choices is not None and not (isinstance(choices, list) and all(isinstance(c, str) for c in choices)):
            raise LayerError(path, f"{where}choices", "must be a list of strings")
        if "vocabulary" in spec:
            if choices is not None or "choices_sql" in spec:
                raise LayerError(path, f"{where}vocabulary", "give one of choices, choices_sql or vocabulary")
            if spec["vocabulary"] not in VOCABULARIES:
                raise LayerError(
                    path,
                    f"{where}vocabulary",
                    f"{spec['vocabulary']!r} is not one of {', '.join(sorted(VOCABULARIES))}",
                )
            choices = list(VOCABULARIES[spec["vocabulary"]])
        out[name] = Parameter(
            name,
            kind,
            spec.get("description", ""),
            tuple(choices) if choices else None,
            spec.get("choices_sql"),
            spec.get("example"),
        )
    return out


def _style(path: Path, data: dict, name: str, geometry_type: str) -> tuple[dict, ...]:
    styles = data.get("style", [])
    if isinstance(styles, dict):
        styles = [styles]
    if not isinstance(styles, list) or not styles:
        raise LayerError(path, "style", "must be one or more [[style]] tables (MapLibre layer type, paint, layout)")
    out = []
    for i, style in enumerate(styles):
        where = f"style[{i}]."
        _unknown(path, style, _KNOWN["style"], where)
        kind = _require(path, style, "type", str, where)
        if kind not in STYLE_TYPES:
            raise LayerError(
                path,
                f"{where}type",
                f"{kind!r} is not one of {', '.join(STYLE_TYPES)} (no text: the page serves no glyphs)",
            )
        for key in ("paint", "layout"):
            if not isinstance(style.get(key, {}), dict):
                raise LayerError(path, f"{where}{key}", "must be a table of MapLibre properties")
        out.append({"id": style.get("id", f"{name}-{kind}-{i}"), **style})
    return tuple(out)


def _folium_hints(styles: tuple[dict, ...]) -> dict:
    """Colours a folium map can reuse: plain colours from the first style layer's paint."""
    hints: dict[str, Any] = {}
    for style in styles:
        paint = style.get("paint", {})
        for key in ("fill-color", "circle-color", "line-color"):
            if isinstance(paint.get(key), str):
                hints.setdefault("colour", paint[key])
        if isinstance(paint.get("fill-opacity"), (int, float)):
            hints.setdefault("fill_opacity", paint["fill-opacity"])
        if isinstance(paint.get("line-color"), str):
            hints.setdefault("line_colour", paint["line-color"])
    return hints


def parse_layer(path: Path) -> Layer:
    """Read and check one layer file."""
    name = path.stem
    if not _NAME.match(name):
        raise LayerError(path, "file name", "must be a lower-case name (letters, digits, _) ending in .toml")
    if name in RESERVED_LAYER_NAMES:
        raise LayerError(path, "file name", f"{name!r} names the tiles holding every boundary layer; choose another")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise LayerError(path, "TOML", str(e)) from None
    _unknown(path, data, _KNOWN["top"])
    minzoom, maxzoom = _zoom(path, data, "minzoom", 0), _zoom(path, data, "maxzoom", 22)
    if minzoom > maxzoom:
        raise LayerError(path, "minzoom", f"{minzoom} is above maxzoom {maxzoom}")
    geometry_type = _require(path, data, "geometry_type", str)
    if geometry_type not in GEOMETRY_TYPES:
        raise LayerError(path, "geometry_type", f"{geometry_type!r} is not one of {', '.join(GEOMETRY_TYPES)}")
    properties = _require(path, data, "properties", dict)
    for prop, kind in properties.items():
        if kind not in PROPERTY_TYPES:
            raise LayerError(path, f"properties.{prop}", f"{kind!r} is not one of {', '.join(PROPERTY_TYPES)}")
    sql, geometry, ident = _source(path, data)
    tooltip = data.get("tooltip", [])
    bad = [t for t in tooltip if t not in properties and t != ident]
    if bad:
        raise LayerError(path, "tooltip", f"{bad[0]!r} is not one of the layer's properties or its id")
    for key, low, high in (("extent", 256, 16384), ("buffer", 0, 4096)):
        value = data.get(key, 4096 if key == "extent" else 64)
        if not isinstance(value, int) or not low <= value <= high:
            raise LayerError(path, key, f"must be a whole number from {low} to {high}")
    styles = _style(path, data, name, geometry_type)
    permission = data.get("permission", "boundaries.read")
    if not isinstance(permission, str) or not permission:
        raise LayerError(path, "permission", "must name a permission, e.g. incidents.read")
    titles = _titles(path, data, name)
    return Layer(
        name=name,
        path=path,
        # One text for readers of either language (TileJSON, the layer list, notebook maps):
        # Chinese first, the English after it where it differs.
        title=titles["zh"] if titles["zh"] == titles["en"] else f"{titles['zh']} ({titles['en']})",
        description=data.get("description", ""),
        minzoom=minzoom,
        maxzoom=maxzoom,
        geometry_type=geometry_type,
        boundaries=bool(data.get("boundaries", False)),
        live=bool(data.get("live", False)),
        extent=data.get("extent", 4096),
        buffer=data.get("buffer", 64),
        properties=dict(properties),
        tooltip=tuple(tooltip),
        source_sql=sql,
        geometry_column=geometry,
        id_column=ident,
        parameters=_parameters(path, data, sql),
        style_layers=styles,
        digest=hashlib.sha256(path.read_bytes()).hexdigest()[:12],
        style=_folium_hints(styles),
        permission=permission,
        titles=titles,
    )


def load_layers(folder: Path | None = None) -> dict[str, Layer]:
    """Every layer declared in ``folder`` (default: the project's ``tiles/``), by name, in file order.

    Raises
    ------
    LayerError
        The first broken file, naming the file, the field and the reason.
    """
    folder = folder or LAYERS_DIR
    if not folder.is_dir():
        raise LayerError(folder, "folder", "the layer declarations' folder does not exist")
    return {layer.name: layer for layer in map(parse_layer, sorted(folder.glob("*.toml")))}
