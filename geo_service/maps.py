"""Folium maps for notebooks and HTML exports, working with no internet.

Leaflet's script and style are inlined into the page (its images as data URIs), no basemap is
drawn unless asked for, and :func:`to_html` refuses to produce a page that still points at a
CDN. Colours, legends and point markers use nothing beyond Leaflet itself (no jQuery, Bootstrap,
d3 or icon fonts), which is what keeps the page self-contained.

>>> m = frame_map(grids, name="grids", column="kind", tooltip=["code", "name"])
>>> save_html(m, "grids.html")
"""

from __future__ import annotations

import base64
import html
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import branca.colormap
import folium
import geopandas
import numpy as np
import pandas as pd
from branca.element import Element, MacroElement
from jinja2 import Template

from geo_service.coordinates.datum import convert_geoseries, parse_datum
from geo_service.errors import InvalidInput
from geo_service.web.vendor import asset_path

# A qualitative palette (ColorBrewer Set1 then Dark2) for categories without given colours.
CATEGORY_PALETTE = [
    "#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf", "#999999",
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
]
MISSING_COLOUR = "#bdbdbd"
DEFAULT_COLORMAP = "YlOrRd"
DEFAULT_STYLE = {"color": "#333333", "weight": 1, "opacity": 0.9, "fillOpacity": 0.55}
_FILL = "__fill"
_EXTERNAL_ASSET = re.compile(
    r"""<(?:script[^>]*\ssrc|link[^>]*\shref)\s*=\s*["']((?:https?:)?//[^"']+)""", re.IGNORECASE
)


# --- Leaflet, inlined -------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _leaflet_js() -> str:
    return asset_path("leaflet", "dist/leaflet.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _leaflet_css() -> str:
    css = asset_path("leaflet", "dist/leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        image = asset_path("leaflet", f"dist/{match.group(1)}").read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode()})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose Leaflet is inlined and which links to no CDN.

    ``datum`` is the datum the map is drawn in: ``wgs84`` (default, as Leaflet expects) or
    ``gcj02``/``bd09`` to line up with a Chinese consumer basemap; :func:`add_frame` shifts
    frames to it.
    """

    # folium's defaults (Leaflet, jQuery, Bootstrap, awesome-markers, fonts) come from CDNs.
    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, datum: str = "wgs84", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.datum = parse_datum(datum)

    def render(self, **kwargs: Any) -> None:
        header = self.get_root().header
        # Named like folium's own links, so a second map in one figure does not add them twice.
        header.add_child(Element(f"<style>{_leaflet_css()}</style>"), name="leaflet_css")
        header.add_child(Element(f"<script>{_leaflet_js()}</script>"), name="leaflet")
        # Leaflet finds its marker images through a stylesheet URL; inline CSS has none.
        header.add_child(Element(
            "<script>L.Icon.Default.prototype.options.imagePath = '';</script>"
        ), name="leaflet_image_path")
        super().render(**kwargs)


class Legend(MacroElement):
    """A small legend box in a corner of the map, drawn with plain HTML (no d3)."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" style="position:absolute; z-index:1000; {{ this.corner }};
             background:rgba(255,255,255,0.9); padding:6px 8px; border-radius:4px;
             font:12px/1.4 sans-serif; box-shadow:0 1px 4px rgba(0,0,0,0.3); max-height:45%;
             overflow:auto">{{ this.body }}</div>
        {% endmacro %}
    """)

    def __init__(self, title: str, entries: list[tuple[str, str]], corner: str = "bottom:24px; right:10px") -> None:
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
            f'vertical-align:middle;background:{html.escape(colour)}"></span>{html.escape(label)}</div>'
            for label, colour in entries
        )
        self.body = f"<b>{html.escape(title)}</b>{rows}"
        self.corner = corner


# --- building maps ----------------------------------------------------------------------------

def base_map(bounds: tuple[float, float, float, float] | None = None, **kwargs: Any) -> OfflineMap:
    """An empty offline map, fitted to ``bounds`` (lon/lat: min x, min y, max x, max y) if given.

    Parameters
    ----------
    bounds
        The area to show, in the map's datum.
    tiles
        A basemap: ``None`` by default (county intranets have none), or a raster tile URL template
        with ``attr``; pass ``datum="gcj02"`` for AMap/Tencent tiles so frames are shifted onto it.
    **kwargs
        Anything else ``folium.Map`` takes (``zoom_start``, ``height``, ...).
    """
    kwargs.setdefault("tiles", None)
    kwargs.setdefault("control_scale", True)
    if bounds is None:
        kwargs.setdefault("location", [30.0, 104.1])
        kwargs.setdefault("zoom_start", 10)
    m = OfflineMap(**kwargs)
    if bounds is not None:
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


def _to_map_crs(frame: geopandas.GeoDataFrame, datum: str) -> geopandas.GeoDataFrame:
    """Lon/lat in WGS84 (Leaflet's), then shifted to the map's datum if it is not WGS84."""
    if frame.crs is None:
        raise InvalidInput(
            "the frame has no CRS: set one (geo_service stores EPSG:4490, CGCS2000 lon/lat)",
            field="frame.crs",
        )
    out = frame.to_crs(4326) if frame.crs.to_epsg() != 4326 else frame.copy()
    if datum in ("gcj02", "bd09"):
        out = out.set_geometry(convert_geoseries(out.geometry, "wgs84", datum).set_crs(4326, allow_override=True))
    return out


def _json_safe(frame: geopandas.GeoDataFrame) -> geopandas.GeoDataFrame:
    """Columns GeoJSON can carry: times and other objects as text, NaN as null."""
    out = frame.copy()
    for name in out.columns:
        if name == out.geometry.name:
            continue
        series = out[name]
        if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
            out[name] = series.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        else:
            out[name] = series.astype(object).where(series.notna(), None)
    return out


def _colormap(name: str, low: float, high: float) -> branca.colormap.LinearColormap:
    schemes = branca.colormap.linear
    candidates = [name, f"{name}_09", f"{name}_11", f"{name}_08"]
    for candidate in candidates:
        if hasattr(schemes, candidate):
            cmap = getattr(schemes, candidate)
            return cmap.scale(low, high if high > low else low + 1)
    raise InvalidInput(
        f"unknown colour map {name!r}: give a ColorBrewer name such as 'YlOrRd', 'Blues', 'viridis'",
        field="colours",
    )


def _colour_column(
    frame: geopandas.GeoDataFrame, column: str, colours: dict[str, str] | str | None
) -> tuple[pd.Series, list[tuple[str, str]]]:
    """Each row's fill colour and the legend's entries."""
    values = frame[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if isinstance(colours, dict) or (colours is None and not numeric):
        if colours is None:
            levels = sorted(values.dropna().astype(str).unique())
            colours = {v: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, v in enumerate(levels)}
        colours = {str(k): v for k, v in colours.items()}
        fill = values.map(lambda v: colours.get(str(v), MISSING_COLOUR) if pd.notna(v) else MISSING_COLOUR)
        present = set(values.dropna().astype(str))
        legend = [(k, c) for k, c in colours.items() if k in present]
        if values.isna().any() or not present.issubset(colours):
            legend.append(("other / none", MISSING_COLOUR))
        return fill, legend
    if not numeric:
        raise InvalidInput(
            f"column {column!r} is not numeric: colour it with a dict of value -> colour",
            field="colours",
        )
    finite = values[np.isfinite(values.astype(float))]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    cmap = _colormap(colours or DEFAULT_COLORMAP, low, high)
    fill = values.map(lambda v: cmap(float(v)) if pd.notna(v) and np.isfinite(float(v)) else MISSING_COLOUR)
    steps = np.linspace(low, high, 5)
    legend = [(f"{v:,.4g}", cmap(float(v))) for v in steps]
    return fill, legend


def add_frame(
    m: folium.Map,
    frame: geopandas.GeoDataFrame,
    *,
    name: str,
    column: str | None = None,
    colours: dict[str, str] | str | None = None,
    tooltip: list[str] | None = None,
    style: dict | None = None,
) -> folium.Map:
    """Draw a GeoDataFrame on ``m`` as one toggleable layer.

    Parameters
    ----------
    m
        A map from :func:`base_map` (its ``datum`` decides whether frames are shifted).
    frame
        Any geometries with a CRS; reprojected to lon/lat for Leaflet. Points are drawn as circles.
    name
        The layer's name in the layer control.
    column
        Colour features by this column: categorically when ``colours`` is a dict of value ->
        colour (or the column is not numeric), else on a colour map (``colours`` names it, a
        ColorBrewer name such as ``'YlOrRd'``). A legend is added.
    tooltip
        Columns shown when hovering a feature.
    style
        Leaflet path options overriding the defaults (``color``, ``weight``, ``fillOpacity``...).

    Returns
    -------
    folium.Map
        ``m``, for chaining.
    """
    for field_name, wanted in (("column", [column] if column else []), ("tooltip", tooltip or [])):
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise InvalidInput(
                f"the frame has no column {', '.join(map(repr, missing))} (it has {', '.join(map(str, frame.columns))})",
                field=field_name,
            )
    data = _to_map_crs(frame, getattr(m, "datum", "wgs84"))
    keep = list(dict.fromkeys([*(tooltip or []), *([column] if column else [])]))
    data = _json_safe(data[[*keep, data.geometry.name]])
    base = {**DEFAULT_STYLE, "fillColor": "#3388ff", **(style or {})}
    legend = None
    if column:
        data[_FILL], legend = _colour_column(frame, column, colours)
    elif isinstance(colours, str):
        base["fillColor"] = colours
    data = data[~data.geometry.is_empty & data.geometry.notna()]

    def style_function(feature: dict) -> dict:
        fill = feature["properties"].get(_FILL) or base["fillColor"]
        return {**base, "fillColor": fill}

    layer = folium.GeoJson(
        data.to_json(drop_id=True),
        name=name,
        style_function=style_function,
        marker=folium.CircleMarker(radius=base.get("radius", 5)),
        tooltip=folium.GeoJsonTooltip(fields=tooltip, sticky=True) if tooltip else None,
    )
    layer.add_to(m)
    if legend:
        Legend(f"{name}: {column}", legend).add_to(m)
    return m


def frame_map(
    frame: geopandas.GeoDataFrame,
    *,
    name: str = "layer",
    column: str | None = None,
    colours: dict[str, str] | str | None = None,
    tooltip: list[str] | None = None,
    **map_options: Any,
) -> OfflineMap:
    """A map fitted to ``frame``, showing it as one layer, with a layer control."""
    m = base_map(_bounds(frame), **map_options)
    add_frame(m, frame, name=name, column=column, colours=colours, tooltip=tooltip)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def _bounds(frame: geopandas.GeoDataFrame) -> tuple[float, float, float, float] | None:
    if frame.empty or frame.crs is None:
        return None
    minx, miny, maxx, maxy = frame.to_crs(4326).total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return None
    return minx, miny, maxx, maxy


def lookup_map(result: dict, engine: Any = None) -> OfflineMap:
    """The dispatcher's lookup on a map: the point, its grid, and the cameras with their sectors.

    Parameters
    ----------
    result
        What ``geo_service.lookup.locate.locate(...).to_dict()`` (or ``GET /locate``) answers.
    engine
        Where the grid's polygon and the cameras' view sectors are read (default: the
        settings' database); the lookup's own answer carries no geometry.
    """
    from geo_service.tiles.geometry import camera_sectors, grid_outline

    if engine is None:
        from geo_service.db.engine import get_engine
        from geo_service.settings import get_settings

        engine = get_engine(get_settings().effective_database_url)
    lon, lat = result["point"]["lon"], result["point"]["lat"]
    point = geopandas.GeoDataFrame(
        {"grid": [(result.get("grid") or result.get("nearest_grid") or {}).get("code")],
         "village": [(result.get("village") or {}).get("name")],
         "town": [(result.get("town") or {}).get("name")]},
        geometry=geopandas.points_from_xy([lon], [lat]), crs=4490,
    )
    grid = (result.get("grid") or result.get("nearest_grid") or {}).get("code")
    outline = grid_outline(engine, grid, result["boundary_version"]["id"]) if grid else None
    codes = [c["device_code"] for c in result.get("cameras", [])]
    sectors = camera_sectors(engine, codes)
    frame = outline if outline is not None and not outline.empty else point
    m = base_map(_bounds(pd.concat([frame, point, sectors]) if not sectors.empty else frame)
                 if frame is not point else None, **({} if frame is not point else {"location": [lat, lon], "zoom_start": 16}))
    if outline is not None and not outline.empty:
        add_frame(m, outline, name="grid", tooltip=["code", "name", "level"],
                  style={"fillColor": "#3388ff", "fillOpacity": 0.15, "weight": 2, "color": "#1f4e9a"})
    if not sectors.empty:
        seen = {c["device_code"]: c["sees"] for c in result.get("cameras", [])}
        sectors["sees"] = sectors["device_code"].map(lambda c: "sees the point" if seen.get(c) else "nearby")
        add_frame(m, sectors, name="cameras", column="sees",
                  colours={"sees the point": "#2ca02c", "nearby": "#aaaaaa"},
                  tooltip=["device_code", "name", "kind", "status", "sees"], style={"fillOpacity": 0.3})
    add_frame(m, point, name="point", tooltip=["grid", "village", "town"],
              style={"color": "#000000", "fillColor": "#d62728", "fillOpacity": 1, "radius": 7, "weight": 2})
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def layer_map(engine: Any, layer: str, bbox: tuple[float, float, float, float] | None = None, **filters: Any) -> OfflineMap:
    """A declared ``tiles/`` layer as a folium map, styled as the layer declares.

    Parameters
    ----------
    engine
        The service's database.
    layer
        A layer's name (its file name in ``tiles/`` without the suffix).
    bbox
        Lon/lat (CGCS2000) bounds to read; default the whole layer.
    **filters
        The layer's declared parameters (for incidents: ``start``, ``end``, ``category``, ``status``).
    """
    from geo_service.tiles.frames import layer_frame
    from geo_service.tiles.layers import load_layers

    declared = load_layers()
    if layer not in declared:
        raise InvalidInput(f"no layer {layer!r}; declared: {', '.join(sorted(declared))}", field="layer")
    spec = declared[layer]
    frame = layer_frame(engine, spec, bbox=bbox, **filters)
    paint = spec.style
    column = paint.get("colour_by")
    colours = paint.get("colours") or paint.get("colour")
    m = base_map(_bounds(frame) or bbox)
    add_frame(m, frame, name=spec.title or layer, column=column if column in frame.columns else None,
              colours=colours, tooltip=[p for p in spec.tooltip if p in frame.columns] or None,
              style={"color": paint.get("line_colour", DEFAULT_STYLE["color"]),
                     "fillOpacity": paint.get("fill_opacity", DEFAULT_STYLE["fillOpacity"])})
    folium.LayerControl(collapsed=False).add_to(m)
    return m


# --- output -----------------------------------------------------------------------------------

def to_html(m: folium.Map) -> str:
    """The map as one self-contained HTML page.

    Raises
    ------
    RuntimeError
        Something on the map (a plugin added by hand, say) links a script or stylesheet from
        the internet, which a county intranet cannot load.
    """
    page = m.get_root().render()
    external = _EXTERNAL_ASSET.findall(page)
    if external:
        raise RuntimeError(
            "the map links assets from the internet, which will not load offline: " + ", ".join(external)
        )
    return page


def save_html(m: folium.Map, path: str | Path) -> Path:
    """Write :func:`to_html` to ``path`` (folders are created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(m), encoding="utf-8")
    return path
