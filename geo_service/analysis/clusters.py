"""Clusters of incidents found by DBSCAN in PostGIS (``ST_ClusterDBSCAN``).

An incident is a core point when at least ``min_points`` incidents (itself included) lie within
``eps_m`` of it in the metric projection; clusters are the core points linked within ``eps_m``
and the points they reach; the rest is noise. Each cluster comes back as the convex hull of its
incidents with its count, its commonest category and its first and last report.
"""

from __future__ import annotations

import geopandas as gpd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.span import IncidentFilter
from geo_service.analysis.units import analysis_srid, no_jit
from geo_service.errors import InvalidInput, TooLarge
from geo_service.i18n import t
from geo_service.settings import PlaceSettings
from geo_service.vocabulary import STORAGE_SRID

MAX_POINTS = 500_000

_SQL = """
    WITH points AS (
        SELECT i.id, i.category, i.reported_at, i.geom,
               ST_ClusterDBSCAN(ST_Transform(i.geom, :srid), eps => :eps, minpoints => :min_points) OVER () AS cluster
          FROM incidents i WHERE {condition})
    SELECT cluster, count(*) AS count, mode() WITHIN GROUP (ORDER BY category) AS main_category,
           min(reported_at) AS first_reported, max(reported_at) AS last_reported,
           ST_ConvexHull(ST_Collect(geom)) AS geom
      FROM points WHERE cluster IS NOT NULL
     GROUP BY cluster
     ORDER BY count DESC
"""


def dbscan_clusters(
    engine: Engine, where: IncidentFilter, *, place: PlaceSettings, eps_m: float = 100.0, min_points: int = 20
) -> gpd.GeoDataFrame:
    """DBSCAN clusters of the incidents ``where`` selects, largest first (EPSG:4490), distances
    taken in the metric projection of the area analysed (``analysis_srid``).

    ``attrs`` gives ``noise`` (incidents in no cluster) and ``incidents``.
    """
    if not 1 <= eps_m <= 5000:
        raise InvalidInput(t("eps_m must be between 1 and 5000 metres, not {eps_m!r}", eps_m=eps_m), field="eps_m")
    if not 2 <= min_points <= 100_000:
        raise InvalidInput(
            t("min_points must be between 2 and 100000, not {min_points!r}", min_points=min_points), field="min_points"
        )
    with engine.begin() as connection:
        no_jit(connection)
        total = connection.execute(
            text(f"SELECT count(*) FROM incidents i WHERE {where.sql('i')}"), where.params()
        ).scalar()
        if total > MAX_POINTS:
            raise TooLarge(
                t(
                    "{total:,} incidents: DBSCAN takes at most {MAX_POINTS:,}; a shorter span or fewer categories",
                    total=total,
                    MAX_POINTS=MAX_POINTS,
                ),
                field="end",
            )
        frame = gpd.read_postgis(
            text(_SQL.format(condition=where.sql("i"))),
            connection,
            geom_col="geom",
            params={
                **where.params(),
                "srid": analysis_srid(connection, where, place),
                "eps": float(eps_m),
                "min_points": int(min_points),
            },
        )
    frame = frame.set_crs(STORAGE_SRID, allow_override=True)
    frame["cluster"] = range(1, len(frame) + 1)  # numbered by size
    frame.attrs.update(
        eps_m=eps_m,
        min_points=min_points,
        incidents=int(total),
        noise=int(total - frame["count"].sum()),
        filter=where.to_dict(),
    )
    return frame
