"""Maps of the service's own things: a declared ``tiles/`` layer styled as it declares, and the
dispatcher's lookup (the point, its grid, the cameras and their view sectors)."""

from __future__ import annotations

from typing import Any

import folium
import geopandas
import pandas as pd
from sqlalchemy.engine import Engine

from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.maps.frames import DEFAULT_STYLE, add_frame, base_map, frame_bounds
from geo_service.maps.offline import OfflineMap
from geo_service.settings import PlaceSettings
from geo_service.tiles.frames import layer_frame
from geo_service.tiles.geometry import camera_sectors, grid_outline
from geo_service.tiles.layers import load_layers
from geo_service.vocabulary import STORAGE_SRID


def lookup_map(result: dict, engine: Engine) -> OfflineMap:
    """The dispatcher's lookup on a map: the point, its grid, and the cameras with their sectors.

    Parameters
    ----------
    result
        What ``geo_service.lookup.locate.locate(...).to_dict()`` (or ``GET /locate``) answers.
    engine
        Where the grid's polygon and the cameras' view sectors are read (the database the lookup
        was answered from); the lookup's own answer carries no geometry.
    """
    lon, lat = result["point"]["lon"], result["point"]["lat"]
    point = geopandas.GeoDataFrame(
        {
            "grid": [(result.get("grid") or result.get("nearest_grid") or {}).get("code")],
            "village": [(result.get("village") or {}).get("name")],
            "town": [(result.get("town") or {}).get("name")],
        },
        geometry=geopandas.points_from_xy([lon], [lat]),
        crs=STORAGE_SRID,
    )
    grid = (result.get("grid") or result.get("nearest_grid") or {}).get("code")
    outline = grid_outline(engine, grid, result["boundary_version"]["id"]) if grid else None
    codes = [c["device_code"] for c in result.get("cameras", [])]
    sectors = camera_sectors(engine, codes)
    frame = outline if outline is not None and not outline.empty else point
    m = base_map(
        frame_bounds(pd.concat([frame, point, sectors]) if not sectors.empty else frame)
        if frame is not point
        else None,
        **({} if frame is not point else {"location": [lat, lon], "zoom_start": 16}),
    )
    if outline is not None and not outline.empty:
        add_frame(
            m,
            outline,
            name="grid",
            tooltip=["code", "name", "level"],
            style={"fillColor": "#3388ff", "fillOpacity": 0.15, "weight": 2, "color": "#1f4e9a"},
        )
    if not sectors.empty:
        seen = {c["device_code"]: c["sees"] for c in result.get("cameras", [])}
        sectors["sees"] = sectors["device_code"].map(lambda c: "sees the point" if seen.get(c) else "nearby")
        add_frame(
            m,
            sectors,
            name="cameras",
            column="sees",
            colours={"sees the point": "#2ca02c", "nearby": "#aaaaaa"},
            tooltip=["device_code", "name", "kind", "status", "sees"],
            style={"fillOpacity": 0.3},
        )
    add_frame(
        m,
        point,
        name="point",
        tooltip=["grid", "village", "town"],
        style={"color": "#000000", "fillColor": "#d62728", "fillOpacity": 1, "radius": 7, "weight": 2},
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m


def layer_map(
    engine: Engine,
    layer: str,
    bbox: tuple[float, float, float, float] | None = None,
    *,
    place: PlaceSettings,
    **filters: Any,
) -> OfflineMap:
    """A declared ``tiles/`` layer as a folium map, styled as the layer declares.

    Parameters
    ----------
    engine
        The service's database.
    layer
        A layer's name (its file name in ``tiles/`` without the suffix).
    bbox
        Lon/lat (CGCS2000) bounds to read; default the whole layer.
    place
        The county's zone and metric projection (``settings.place``): dates among the filters are
        the county's days.
    **filters
        The layer's declared parameters (for incidents: ``start``, ``end``, ``category``, ``status``).
    """
    declared = load_layers()
    if layer not in declared:
        raise InvalidInput(
            t("no layer {layer!r}; declared: {declared}", layer=layer, declared=", ".join(sorted(declared))),
            field="layer",
        )
    spec = declared[layer]
    frame = layer_frame(engine, spec, place=place, bbox=bbox, **filters)
    paint = spec.style
    column = paint.get("colour_by")
    colours = paint.get("colours") or paint.get("colour")
    m = base_map(frame_bounds(frame) or bbox)
    add_frame(
        m,
        frame,
        name=spec.title or layer,
        column=column if column in frame.columns else None,
        colours=colours,
        tooltip=[p for p in spec.tooltip if p in frame.columns] or None,
        style={
            "color": paint.get("line_colour", DEFAULT_STYLE["color"]),
            "fillOpacity": paint.get("fill_opacity", DEFAULT_STYLE["fillOpacity"]),
        },
    )
    folium.LayerControl(collapsed=False).add_to(m)
    return m
