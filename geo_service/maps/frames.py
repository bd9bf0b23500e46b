"""Maps of GeoDataFrames: an empty offline map, a frame drawn on it as a toggleable layer
(reprojected to lon/lat and shifted onto the map's datum), and a map fitted to one frame.

>>> m = frame_map(grids, name="grids", column="kind", tooltip=["code", "name"])
>>> save_html(m, "grids.html")
"""

from __future__ import annotations

from typing import Any

import folium
import geopandas
import numpy as np
import pandas as pd

from geo_service.coordinates.datum import convert_geoseries
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.maps.colours import Legend, colour_column
from geo_service.maps.offline import OfflineMap
from geo_service.vocabulary import STORAGE_CRS

DEFAULT_STYLE = {"color": "#333333", "weight": 1, "opacity": 0.9, "fillOpacity": 0.55}
_FILL = "__fill"


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
            t(
                "the frame has no CRS: set one (geo_service stores {STORAGE_CRS}, CGCS2000 lon/lat)",
                STORAGE_CRS=STORAGE_CRS,
            ),
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
                t(
                    "the frame has no column {value} (it has {value2})",
                    value=", ".join(map(repr, missing)),
                    value2=", ".join(map(str, frame.columns)),
                ),
                field=field_name,
            )
    data = _to_map_crs(frame, getattr(m, "datum", "wgs84"))
    keep = list(dict.fromkeys([*(tooltip or []), *([column] if column else [])]))
    data = _json_safe(data[[*keep, data.geometry.name]])
    base = {**DEFAULT_STYLE, "fillColor": "#3388ff", **(style or {})}
    legend = None
    if column:
        data[_FILL], legend = colour_column(frame, column, colours)
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
    m = base_map(frame_bounds(frame), **map_options)
    add_frame(m, frame, name=name, column=column, colours=colours, tooltip=tooltip)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def frame_bounds(frame: geopandas.GeoDataFrame) -> tuple[float, float, float, float] | None:
    if frame.empty or frame.crs is None:
        return None
    minx, miny, maxx, maxy = frame.to_crs(4326).total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        return None
    return minx, miny, maxx, maxy
