"""The analyst's API: counts, density, clusters, hot spots, emerging hot spots, two-span
comparisons, closed-loop rankings and camera coverage, over ``geo_service.analysis``.

Maps answer GeoJSON FeatureCollections in CGCS2000 lon/lat (EPSG:4490, within a metre of
EPSG:4326), with a ``metadata`` member saying what was computed and how; tables answer JSON.
Spans are ``[start, end)``; without them the last 365 days up to now. ``category`` repeats or
takes a comma-separated list.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from geo_service import analysis
from geo_service.analysis.span import IncidentFilter, make_span
from geo_service.api.auth import allow
from geo_service.api.limits import expensive
from geo_service.api.params import Moment
from geo_service.errors import InvalidInput

# Every analysis needs analysis.read, counts towards the user's rate of expensive requests, and
# sees only the incidents and places of the user's jurisdiction.
router = APIRouter(prefix="/analysis", tags=["analysis"],
                   dependencies=[Depends(allow("analysis.read")), Depends(expensive)])

Unit = Literal["grid", "village", "town", "hex"]
Confidence = Literal["0.9", "0.95", "0.99"]

START = Query(None, description="Start of the span (inclusive; no zone = Beijing time). Default: end - 365 days.")
END = Query(None, description="End of the span (exclusive). Default: now.")
CATEGORY = Query(None, description="Categories counted (repeat, or comma-separated); default all.")
UNIT = Query("grid", description="grid (the finest grids), village, town, or hex (hexagons of size_m).")
SIZE = Query(None, description="Hexagon side in metres (unit=hex; default 200).")
CONFIDENCE = Query("0.9", description="Lowest confidence reported: 0.9, 0.95 or 0.99.")


def _filter(request: Request, start: datetime | None, end: datetime | None, category: list[str] | None,
            prefix: str = "") -> IncidentFilter:
    span = make_span(start, end, zone=request.app.state.settings.timezone, prefix=prefix)
    with request.app.state.engine.connect() as connection:
        return analysis.incident_filter(connection, span, [c for value in category or [] for c in value.split(",")],
                                        scope=request.state.principal.jurisdiction)


def _size(unit: str, size_m: float | None) -> float | None:
    return (200.0 if size_m is None else size_m) if unit == "hex" else None


def _safe(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN and infinities to null."""
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return value


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str], **metadata: Any) -> JSONResponse:
    """``frame``'s ``columns`` as a FeatureCollection, coordinates to a micro-degree (about 0.1 m)."""
    frame = frame.to_crs(4490)
    data = frame[[c for c in columns if c in frame.columns]].copy()
    data["geometry"] = shapely.set_precision(frame.geometry.to_numpy(), 1e-6, mode="pointwise")
    for column in data.columns:
        if pd.api.types.is_datetime64_any_dtype(data[column]):
            data[column] = data[column].map(lambda t: None if pd.isna(t) else t.isoformat())
    body = json.loads(gpd.GeoDataFrame(data, geometry="geometry", crs=4490).to_json(drop_id=True, na="null"))
    body["metadata"] = _safe({**frame.attrs, **metadata, "crs": "EPSG:4490 (CGCS2000) lon/lat", "features": len(data)})
    return JSONResponse(body)


RATE_COLUMNS = ["code", "name", "count", "population", "households", "grid_workers", "area_km2", "per_1000",
                "per_worker", "per_km2"]


@router.get("/counts", summary="Incidents and rates (per 1,000 residents, per grid worker, per km2) by place")
def get_counts(request: Request, unit: Unit = UNIT, size_m: float | None = SIZE, start: Moment | None = START,
               end: Moment | None = END, category: list[str] | None = CATEGORY) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.counts(request.app.state.engine, where, unit, _size(unit, size_m))
    return feature_collection(frame, RATE_COLUMNS)


@router.get("/density", summary="Hexagon density: incidents per hexagon and per km2")
def get_density(request: Request, size_m: float = Query(200.0, description="Hexagon side in metres."),
                start: Moment | None = START, end: Moment | None = END, category: list[str] | None = CATEGORY,
                include_empty: bool = Query(False, description="Also the hexagons with no incident.")) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.counts(request.app.state.engine, where, "hex", size_m)
    if not include_empty:
        frame = frame[frame["count"] > 0]
    return feature_collection(frame, ["code", "count", "area_km2", "per_km2"])


@router.get("/kde", summary="Kernel density surface (Gaussian), incidents per km2 on square cells")
def get_kde(request: Request, cell_m: float = Query(500.0, description="Cell side in metres."),
            bandwidth_m: float | None = Query(None, description="Kernel standard deviation in metres; default Scott's rule."),
            start: Moment | None = START, end: Moment | None = END, category: list[str] | None = CATEGORY,
            min_per_km2: float = Query(0.01, ge=0, description="Leave out cells below this density.")) -> JSONResponse:
    where = _filter(request, start, end, category)
    surface = analysis.kernel_density(request.app.state.engine, where, cell_m=cell_m, bandwidth_m=bandwidth_m)
    cells = surface.cells[surface.cells["density_per_km2"] >= min_per_km2]
    return feature_collection(cells, ["density_per_km2"])


@router.get("/clusters", summary="DBSCAN clusters of incidents (ST_ClusterDBSCAN), as convex hulls")
def get_clusters(request: Request, eps_m: float = Query(100.0, description="Neighbourhood radius in metres."),
                 min_points: int = Query(20, description="Incidents within eps_m that make a core point."),
                 start: Moment | None = START, end: Moment | None = END,
                 category: list[str] | None = CATEGORY) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.dbscan_clusters(request.app.state.engine, where, eps_m=eps_m, min_points=min_points)
    return feature_collection(frame, ["cluster", "count", "main_category", "first_reported", "last_reported"])


HOTSPOT_COLUMNS = ["code", "name", "count", "per_1000", "gi_z", "z_sim", "p_value", "p_sim", "p_fdr", "class"]


@router.get("/hotspots", summary="Getis-Ord Gi* hot and cold spots with FDR, classed at 90/95/99%")
def get_hotspots(request: Request, unit: Unit = UNIT, size_m: float | None = SIZE, start: Moment | None = START,
                 end: Moment | None = END, category: list[str] | None = CATEGORY,
                 value: Literal["count", "per_1000"] = Query("count", description="count, or per_1000 residents."),
                 confidence: Confidence = CONFIDENCE,
                 inference: Literal["analytic", "permutation"] = Query("analytic", description="How p-values are found."),
                 permutations: int = Query(999, description="Conditional permutations (0 to 9999)."),
                 significant_only: bool = Query(False, description="Only the hot and cold units.")) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.hotspots(request.app.state.engine, where, unit, _size(unit, size_m), value=value,
                              confidence=float(confidence), inference=inference, permutations=permutations)
    if significant_only:
        frame = frame[frame["class"] != "not significant"]
    return feature_collection(frame, HOTSPOT_COLUMNS)


@router.get("/emerging", summary="Emerging hot spots (Gi* per time step, Mann-Kendall trend, ArcGIS's patterns)")
def get_emerging(request: Request, unit: Unit = UNIT, size_m: float | None = SIZE, start: Moment | None = START,
                 end: Moment | None = END, category: list[str] | None = CATEGORY,
                 step_days: int = Query(7, ge=1, le=3660, description="Time step in days; at least 10 steps in the span."),
                 value: Literal["count", "per_1000"] = Query("count", description="count, or per_1000 residents."),
                 confidence: Confidence = CONFIDENCE,
                 with_pattern_only: bool = Query(False, description="Only the units with a pattern.")) -> JSONResponse:
    where = _filter(request, start, end, category)
    result = analysis.emerging_hotspots(request.app.state.engine, where, unit, _size(unit, size_m),
                                        step_days=step_days, confidence=float(confidence), value=value)
    frame = result.frame
    if with_pattern_only:
        frame = frame[frame["pattern"] != "no pattern detected"]
    return feature_collection(frame, ["code", "name", "count", "pattern", "hot_steps", "cold_steps", "n_steps",
                                      "final_z", "trend_tau", "trend_z", "trend_p", "trend", "count_trend"])


@router.get("/compare", summary="Two spans by place: the change and whether it is beyond chance")
def get_compare(request: Request,
                preset: Literal["day", "week", "month", "year"] | None = Query(
                    None, description="today/yesterday, this week/last, month on month, year on year, up to `at`."),
                at: Moment | None = Query(None, description="With preset: the moment compared up to (default now)."),
                base_start: Moment | None = Query(None), base_end: Moment | None = Query(None),
                current_start: Moment | None = Query(None), current_end: Moment | None = Query(None),
                unit: Unit = UNIT, size_m: float | None = SIZE, category: list[str] | None = CATEGORY,
                confidence: Confidence = Query("0.95", description="Confidence for calling a change significant.")
                ) -> JSONResponse:
    zone = request.app.state.settings.timezone
    given = [v is not None for v in (base_start, base_end, current_start, current_end)]
    if preset is not None:
        if any(given):
            raise InvalidInput("give either preset or the four span bounds, not both", field="preset")
        base, current = analysis.preset_spans(preset, at, zone=zone)
    elif all(given):
        base = make_span(base_start, base_end, zone=zone, prefix="base_")
        current = make_span(current_start, current_end, zone=zone, prefix="current_")
    else:
        missing = [n for n, g in zip(("base_start", "base_end", "current_start", "current_end"), given) if not g]
        raise InvalidInput(f"give preset, or all of base_start, base_end, current_start and current_end "
                           f"(missing {', '.join(missing)})", field=missing[0])
    where = _filter(request, current.start, current.end, category)
    frame = analysis.compare_spans(request.app.state.engine, base, current, where.categories, unit,
                                   _size(unit, size_m), confidence=float(confidence), scope=where.scope)
    return feature_collection(frame, ["code", "name", "base", "current", "expected", "change", "change_pct",
                                      "rate_ratio", "p_value", "p_fdr", "significant", "direction"])


@router.get("/rankings", summary="Closed-loop rates by town or village, ranked")
def get_rankings(request: Request, level: Literal["town", "village"] = Query("town"),
                 order_by: Literal["handled_rate", "closed_rate", "overdue_rate", "median_hours_to_close",
                                   "satisfaction"] = Query("overdue_rate", description="The metric ranked on."),
                 start: Moment | None = START, end: Moment | None = END, category: list[str] | None = CATEGORY,
                 as_of: Moment | None = Query(None, description="Open cases count as overdue past their deadline at "
                                                                   "this moment (default now).")) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.rankings(request.app.state.engine, where, level, order_by=order_by, as_of=as_of)
    rows = [_safe(row) for row in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")]
    return JSONResponse({"metadata": _safe(frame.attrs), "rows": rows})


@router.get("/coverage", summary="Camera coverage of incidents and hot spots; hot spots no camera sees")
def get_coverage(request: Request, unit: Unit = UNIT, size_m: float | None = SIZE, start: Moment | None = START,
                 end: Moment | None = END, category: list[str] | None = CATEGORY,
                 confidence: Confidence = Query("0.95", description="Hot spots at this confidence or more."),
                 online_only: bool = Query(False, description="Count only cameras online now.")) -> JSONResponse:
    where = _filter(request, start, end, category)
    frame = analysis.hotspot_coverage(request.app.state.engine, where, unit, _size(unit, size_m),
                                      confidence=float(confidence), online_only=online_only)
    return feature_collection(frame, ["code", "name", "count", "class", "gi_z", "p_fdr", "incidents", "seen",
                                      "share_seen", "unseen"])
