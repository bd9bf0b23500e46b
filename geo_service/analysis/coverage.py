"""Camera coverage: the share of incidents inside some camera's view, overall and for each hot
spot, and the hot spots no camera sees.

A camera sees a point inside its view sector exactly as :mod:`geo_service.lookup.cameras` decides it for
the dispatcher (distance and bearing on the spheroid, ``range_m``, ``heading_deg``, ``fov_deg``);
here it is asked of every incident of the span at once, in one query that looks only at the
cameras within reach of each incident (the cameras' index). Cameras of every status count unless
``online_only``: one that is offline or faulty still marks a place that was meant to be watched.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.hotspots import hotspots
from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.units import check_unit, keyed_params, keyed_sql, no_jit
from geo_service.lookup.cameras import METRES_PER_DEGREE, sees_sql
from geo_service.settings import PlaceSettings


def coverage_by_unit(
    engine: Engine,
    where: IncidentFilter,
    unit: str = "grid",
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    online_only: bool = False,
) -> pd.DataFrame:
    """Per unit code: ``incidents`` and ``seen`` (inside some camera's view); ``place`` is
    ``settings.place`` (hexagons are drawn in its metric projection)."""
    size = check_unit(unit, size_m)
    status = "WHERE c.status = 'online'" if online_only else ""
    # Driven by the cameras: each looks through the incidents' index within its own range (a few
    # hundred metres), far fewer candidates than every incident looking for cameras within the
    # longest range any camera has.
    sql = text(f"""
        WITH seen AS (
            SELECT DISTINCT i.id
              FROM cameras c
              JOIN incidents i
                ON i.geom && ST_Expand(c.geom, c.range_m * 1.01 / :metres_per_degree / cos(radians(ST_Y(c.geom))),
                                       c.range_m * 1.01 / :metres_per_degree)
               AND {where.sql("i")} AND {sees_sql("c", "i.geom")}
             {status}),
        {keyed_sql(unit, where, {"id": "i.id"})}
        SELECT key, count(*) AS incidents, count(seen.id) AS seen
          FROM keyed LEFT JOIN seen USING (id)
         GROUP BY key""")
    with engine.begin() as connection:
        no_jit(connection)
        return pd.read_sql(
            sql,
            connection,
            params={**keyed_params(connection, where, unit, size, place=place), "metres_per_degree": METRES_PER_DEGREE},
            index_col="key",
        )


def incident_coverage(
    engine: Engine, where: IncidentFilter, *, place: PlaceSettings, online_only: bool = False
) -> dict:
    """The county's incidents of the span and how many of them some camera sees."""
    by_town = coverage_by_unit(engine, where, "town", place=place, online_only=online_only)
    incidents, seen = int(by_town["incidents"].sum()), int(by_town["seen"].sum())
    return {
        "incidents": incidents,
        "seen": seen,
        "share_seen": seen / incidents if incidents else None,
        "online_only": online_only,
        **where.to_dict(),
    }


def hotspot_coverage(
    engine: Engine,
    where: IncidentFilter,
    unit: str = "grid",
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    confidence: float = 0.95,
    online_only: bool = False,
    **hotspot_options,
) -> gpd.GeoDataFrame:
    """The hot spots of :func:`geo_service.analysis.hotspots.hotspots` with their camera coverage.

    Returns
    -------
    geopandas.GeoDataFrame
        The hot units (at ``confidence`` or more), with ``incidents``, ``seen``, ``share_seen`` and
        ``unseen`` (no camera sees any of its incidents: a camera gap), the least covered first.
        ``attrs['county']`` holds :func:`incident_coverage`'s answer.
    """
    spots = hotspots(engine, where, unit, size_m, place=place, confidence=confidence, **hotspot_options)
    seen = coverage_by_unit(engine, where, unit, size_m, place=place, online_only=online_only)
    hot = spots[spots["class"].str.startswith("hot")].copy()
    hot = hot.merge(seen, left_on="code", right_index=True, how="left").fillna({"incidents": 0, "seen": 0})
    hot[["incidents", "seen"]] = hot[["incidents", "seen"]].astype(int)
    with np.errstate(divide="ignore", invalid="ignore"):
        hot["share_seen"] = np.where(hot["incidents"] > 0, hot["seen"] / hot["incidents"], np.nan)
    hot["unseen"] = hot["seen"] == 0
    hot = hot.sort_values(["share_seen", "count"], ascending=[True, False]).reset_index(drop=True)
    total_incidents, total_seen = int(seen["incidents"].sum()), int(seen["seen"].sum())
    hot.attrs.update(spots.attrs)
    hot.attrs["county"] = {
        "incidents": total_incidents,
        "seen": total_seen,
        "share_seen": total_seen / total_incidents if total_incidents else None,
        "online_only": online_only,
    }
    return hot
