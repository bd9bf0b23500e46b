"""Counts and rates by place: incidents per grid, village, town or hexagon, per 1,000 residents,
per grid worker and per square kilometre. Counted in PostGIS; Python only joins ~1,000 rows."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.units import attach, check_unit, keyed_params, keyed_sql, no_jit, units_for
from geo_service.settings import PlaceSettings


def counts(
    engine: Engine, where: IncidentFilter, unit: str = "grid", size_m: float | None = None, *, place: PlaceSettings
) -> gpd.GeoDataFrame:
    """Incidents per unit, with rates.

    Parameters
    ----------
    engine
        The database.
    where
        The span and categories counted (:func:`geo_service.analysis.span.incident_filter`).
    unit
        ``grid`` (the finest grids), ``village``, ``town`` or ``hex``.
    size_m
        The hexagons' side in metres (``unit='hex'`` only).
    place
        The county's zone (which day's grid workers count) and metric projection (hexagons):
        ``settings.place``.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per unit of the boundary version in force at the span's end, EPSG:4490: ``code``,
        ``name``, ``count``, ``population``, ``households``, ``grid_workers``, ``area_km2``,
        ``per_1000`` (per 1,000 residents), ``per_worker`` (per grid worker), ``per_km2``. A unit
        with no residents or no workers has NaN rates. ``attrs['unplaced']`` counts the incidents
        of the span that fall in none of the units (outside the county, or assigned to a grid the
        version no longer has).
    """
    size = check_unit(unit, size_m)
    with engine.begin() as connection:
        no_jit(connection)
        frame = units_for(connection, where, unit, size, place=place)
        found = pd.read_sql(
            text(f"WITH {keyed_sql(unit, where)} SELECT key, count(*) AS count FROM keyed GROUP BY key"),
            connection,
            params=keyed_params(connection, where, unit, size, place=place),
            index_col="key",
        )
    frame = attach(frame, found, {"count": 0})
    frame["count"] = frame["count"].astype(int)
    frame = add_rates(frame)
    frame.attrs.update(
        unit=unit, size_m=size, filter=where.to_dict(), unplaced=int(found["count"].sum() - frame["count"].sum())
    )
    return frame


def add_rates(frame: gpd.GeoDataFrame, column: str = "count") -> gpd.GeoDataFrame:
    """Per 1,000 residents, per grid worker and per km2 of ``column``; NaN where the base is 0 or unknown."""
    value = frame[column].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["per_1000"] = value * 1000 / frame["population"].astype(float).where(lambda p: p > 0)
        frame["per_worker"] = value / frame["grid_workers"].astype(float).where(lambda w: w > 0)
        frame["per_km2"] = value / frame["area_km2"].astype(float)
    return frame
