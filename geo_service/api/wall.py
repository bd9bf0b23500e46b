"""The wall screen's figures: today and this month against the periods before, overdue by town, rankings."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from geo_service.analysis.dashboard import read_at, wall_summary
from geo_service.api.dependencies import EngineDep, SettingsDep, allow
from geo_service.api.limits import expensive
from geo_service.auth.principal import Principal

# The wall shows figures and rankings (analysis.read) and counts as an analysis against the user's
# rate: a screen refreshing once a minute is far below it.
router = APIRouter(prefix="/wall", tags=["wall"], dependencies=[Depends(expensive)])


@router.get("/summary", summary="The wall screen: today and this month compared, overdue, rankings, red cases, a map")
def get_summary(
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("analysis.read")),
    at: str | None = Query(
        None,
        description="As at this moment (ISO 8601; no zone = the county's time). Default: now.",
        max_length=100,
    ),
    datum: str = Query("wgs84", description="Datum of the map's points: wgs84 (default), gcj02 or bd09."),
    red_limit: int = Query(10, ge=1, le=100, description="Open red cases listed, the newest first."),
    recent_limit: int = Query(2000, ge=1, le=10_000, description="Today's incidents on the map, the newest first."),
    ranking_top: int | None = Query(None, ge=1, le=1000, description="Units in each ranking (default all)."),
) -> dict:
    """For the user's jurisdiction, as at `at`:

    - `figures.today` and `figures.month`: `received`, `closed` and `overdue` (cases whose deadline
      fell in the span before they were resolved), each `{current, previous, last_year, change,
      change_last_year}`: 环比 against yesterday / last month up to the same point, 同比 against
      the same span a year earlier; a change is a ratio (0.25 = +25%), null when its base is 0;
      `spans` gives the six spans;
    - `overdue_by_unit`: open cases past their deadline (as `/sla` counts them) by `unit` (towns
      for a county, counties for a city, villages for a town, village or grid);
    - `rankings`: the units on `closed_rate`, `handled_rate` and `overdue_rate` of the cases
      reported this month (as `/analysis/rankings`), each list in rank order (1 = best);
    - `red_cases`: the open red cases, the newest first (`total` and the first `red_limit`);
    - `recent`: today's incidents as a GeoJSON FeatureCollection of points in `datum`.
    """
    return wall_summary(
        engine,
        read_at(at, settings.place.timezone),
        place=settings.place,
        scope=principal.jurisdiction,
        datum=datum,
        red_limit=red_limit,
        recent_limit=recent_limit,
        ranking_top=ranking_top,
    )
