"""Cases that may be duplicates of one another: the same category, close in space and in time.

They are proposed, not merged: a dispatcher looks and merges (``workflow`` keeps both timelines).
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.errors import NotFound
from geo_service.i18n import t

METRES_PER_DEGREE = 111_320.0

CANDIDATES = """
    SELECT o.id, o.external_id, o.status, o.category, o.reported_at, o.grid_code,
           round(ST_Distance(o.geom::geography, i.geom::geography)::numeric, 1)::float8 AS distance_m,
           round((abs(extract(epoch FROM o.reported_at - i.reported_at)) / 3600)::numeric, 1)::float8 AS hours_apart
      FROM incidents i
      JOIN incidents o
        ON o.id <> i.id AND o.category = i.category
       AND o.status NOT IN ('merged', 'rejected')
       AND o.reported_at BETWEEN i.reported_at - :window AND i.reported_at + :window
       AND o.geom && ST_Expand(i.geom, :dlon, :dlat)
       AND ST_DWithin(o.geom::geography, i.geom::geography, :distance)
     WHERE i.id = :id AND {scope_i} AND {scope_o}
     ORDER BY distance_m, hours_apart, o.id
"""


def possible_duplicates(
    connection: Connection, incident_id: int, distance_m: float, window: timedelta, scope: Jurisdiction | None = None
) -> list[dict]:
    """Open or finished cases of the same category within ``distance_m`` and ``window`` of the case
    (both within ``scope``)."""
    scope = scope or EVERYTHING
    lat = connection.execute(
        text(f"SELECT ST_Y(i.geom) FROM incidents i WHERE i.id = :id AND {scope.incidents('i')}"),
        {"id": incident_id, **scope.params()},
    ).scalar()
    if lat is None:
        raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
    dlat = distance_m / METRES_PER_DEGREE * 1.01
    dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
    query = text(CANDIDATES.format(scope_i=scope.incidents("i"), scope_o=scope.incidents("o")))
    rows = connection.execute(
        query,
        {"id": incident_id, "window": window, "distance": distance_m, "dlon": dlon, "dlat": dlat, **scope.params()},
    ).mappings()
    return [{**dict(r), "reported_at": r["reported_at"].isoformat()} for r in rows]
