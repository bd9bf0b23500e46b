"""A declared layer's features as a GeoDataFrame (CGCS2000), for folium maps and notebooks.

The same source query the tiles are cut from, over a bounding box instead of a tile, with the
same bind parameters (the county's zone and metric projection among them).
"""

from __future__ import annotations

from typing import Any

import geopandas
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.boundaries.versions import in_force
from geo_service.coordinates.projection import counties_srid
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.tiles.layers import Layer
from geo_service.tiles.mvt import bind_values, source_sql
from geo_service.times import now
from geo_service.vocabulary import STORAGE_SRID

WORLD = (-180.0, -85.0, 180.0, 85.0)


def layer_frame(
    engine: Engine,
    layer: Layer,
    *,
    place: PlaceSettings,
    bbox: tuple[float, float, float, float] | None = None,
    version_ids: list[int] | None = None,
    zoom: int | None = None,
    **values: Any,
) -> geopandas.GeoDataFrame:
    """Features of ``layer`` within ``bbox`` (lon/lat), with its declared properties.

    Parameters
    ----------
    place
        The county's zone and metric projection (``settings.place``): a date or a time without a
        zone among ``values`` is the county's.
    version_ids
        The boundary versions, one per county (default: those in force now).
    zoom
        What ``:z`` is bound to for sources that use it (default: the layer's maxzoom).
    **values
        The layer's parameters (``start``/``end`` as dates, datetimes or ISO 8601 text, lists of codes).
    """
    unknown = sorted(set(values) - set(layer.parameters))
    if unknown:
        raise InvalidInput(
            t("{value}: layer {name!r} takes no such parameter", value=unknown[0], name=layer.name), field=unknown[0]
        )
    west, south, east, north = bbox or WORLD
    columns = ", ".join(f'src."{p}"' for p in [*([layer.id_column] if layer.id_column else []), *layer.properties])
    sql = f'SELECT {columns}, src."{layer.geometry_column}" AS geometry FROM ({source_sql(layer)}) src'
    with engine.connect() as connection:
        versions = version_ids or in_force(connection, now(place.timezone)).ids
        params = {
            "west": west,
            "south": south,
            "east": east,
            "north": north,
            "versions": versions,
            "z": layer.maxzoom if zoom is None else zoom,
            **bind_values(layer, values, place, lon=(west + east) / 2),
        }
        if bbox is None:  # the whole map: measured in the zone of the counties' middle
            params["metric_srid"] = counties_srid(connection, place, versions)
        return geopandas.read_postgis(text(sql), connection, geom_col="geometry", params=params, crs=STORAGE_SRID)
