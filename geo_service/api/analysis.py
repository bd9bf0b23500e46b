"""The analyst's API: counts, density, clusters, hot spots, emerging hot spots, two-span
comparisons, closed-loop rankings and camera coverage, over ``geo_service.analysis``.

Maps answer GeoJSON FeatureCollections in CGCS2000 lon/lat (within a metre of WGS84), with a
``metadata`` member saying what was computed and how; tables answer JSON. Both documents are made
by ``geo_service.analysis.geojson``, as a notebook makes them. Spans are ``[start, end)``; without
them the last 365 days up to now. ``category`` repeats or takes a comma-separated list. The
county's zone and metric projection are the app's settings (``settings.place``).

Each route checks what it can where the request is (permission, rate, jurisdiction, span,
categories, parameters) and hands the work to the app's analysis pool
(``geo_service.api.analysis_pool``): a ``*_job`` function below, run in a process of its own,
which returns the document; an error the library raises there reaches the client as here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from geo_service import analysis
from geo_service.analysis.geojson import COLUMNS, feature_collection, table
from geo_service.analysis.span import IncidentFilter, make_span
from geo_service.api.analysis_pool import Job
from geo_service.api.dependencies import EngineDep, Moment, SettingsDep, allow, current_principal
from geo_service.api.limits import expensive
from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.auth.principal import Principal
from geo_service.settings import Settings

# Every analysis needs analysis.read, counts towards the user's rate of expensive requests, and
# sees only the incidents and places of the user's jurisdiction.
router = APIRouter(
    prefix="/analysis", tags=["analysis"], dependencies=[Depends(allow("analysis.read")), Depends(expensive)]
)

Unit = Literal["grid", "village", "town", "county", "hex"]
Confidence = Literal["0.9", "0.95", "0.99"]
DEFAULT_HEX_M = 200.0

START = Query(None, description="Start of the span (inclusive; no zone = the county's time). Default: end - 365 days.")
END = Query(None, description="End of the span (exclusive). Default: now.")
CATEGORY = Query(None, description="Categories counted (repeat, or comma-separated); default all.")
UNIT = Query("grid", description="grid (the finest grids), village, town, county, or hex (hexagons of size_m).")
SIZE = Query(None, description=f"Hexagon side in metres (unit=hex; default {DEFAULT_HEX_M:g}).")
CONFIDENCE = Query("0.9", description="Lowest confidence reported: 0.9, 0.95 or 0.99.")


def incident_selection(
    engine: EngineDep,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(current_principal)],
    start: Moment | None = START,
    end: Moment | None = END,
    category: list[str] | None = CATEGORY,
) -> IncidentFilter:
    """The incidents a request analyses: its span (in the county's zone), categories and the user's jurisdiction."""
    span = make_span(start, end, zone=settings.place.timezone)
    with engine.connect() as connection:
        return analysis.incident_filter(connection, span, category, scope=principal.jurisdiction)


Where = Annotated[IncidentFilter, Depends(incident_selection)]


def _size(unit: str, size_m: float | None) -> float | None:
    return (DEFAULT_HEX_M if size_m is None else size_m) if unit == "hex" else None


async def _answer(request: Request, job: Job, **params) -> Response:
    """The answer of ``job`` run in the app's analysis pool, as JSON."""
    body = await request.app.state.analysis_pool.run(job, **params)
    return Response(body, media_type="application/json")


# -- the work, run in a pool process: each takes the engine and settings of that process -----------


def counts_job(engine: Engine, settings: Settings, where: IncidentFilter, unit: str, size_m: float | None) -> dict:
    return feature_collection(analysis.counts(engine, where, unit, size_m, place=settings.place), COLUMNS["counts"])


def density_job(engine: Engine, settings: Settings, where: IncidentFilter, size_m: float, include_empty: bool) -> dict:
    frame = analysis.counts(engine, where, "hex", size_m, place=settings.place)
    if not include_empty:
        frame = frame[frame["count"] > 0]
    return feature_collection(frame, COLUMNS["density"])


def kde_job(
    engine: Engine,
    settings: Settings,
    where: IncidentFilter,
    cell_m: float,
    bandwidth_m: float | None,
    min_per_km2: float,
) -> dict:
    surface = analysis.kernel_density(engine, where, place=settings.place, cell_m=cell_m, bandwidth_m=bandwidth_m)
    return feature_collection(surface.cells[surface.cells["density_per_km2"] >= min_per_km2], COLUMNS["kde"])


def clusters_job(engine: Engine, settings: Settings, where: IncidentFilter, eps_m: float, min_points: int) -> dict:
    frame = analysis.dbscan_clusters(engine, where, place=settings.place, eps_m=eps_m, min_points=min_points)
    return feature_collection(frame, COLUMNS["clusters"])


def hotspots_job(engine: Engine, settings: Settings, where: IncidentFilter, significant_only: bool, **options) -> dict:
    frame = analysis.hotspots(engine, where, place=settings.place, **options)
    if significant_only:
        frame = frame[frame["class"] != "not significant"]
    return feature_collection(frame, COLUMNS["hotspots"])


def emerging_job(engine: Engine, settings: Settings, where: IncidentFilter, with_pattern_only: bool, **options) -> dict:
    frame = analysis.emerging_hotspots(engine, where, place=settings.place, **options).frame
    if with_pattern_only:
        frame = frame[frame["pattern"] != "no pattern detected"]
    return feature_collection(frame, COLUMNS["emerging"])


def compare_job(
    engine: Engine,
    settings: Settings,
    base: analysis.Span,
    current: analysis.Span,
    category: list[str] | None,
    scope: Jurisdiction,
    **options,
) -> dict:
    with engine.connect() as connection:
        where = analysis.incident_filter(connection, current, category, scope=scope)
    frame = analysis.compare_spans(
        engine, base, current, where.categories, place=settings.place, scope=where.scope, **options
    )
    return feature_collection(frame, COLUMNS["compare"])


def rankings_job(engine: Engine, settings: Settings, where: IncidentFilter, **options) -> dict:
    return table(analysis.rankings(engine, where, place=settings.place, **options))


def coverage_job(engine: Engine, settings: Settings, where: IncidentFilter, **options) -> dict:
    return feature_collection(
        analysis.hotspot_coverage(engine, where, place=settings.place, **options), COLUMNS["coverage"]
    )


# -- the routes -------------------------------------------------------------------------------------


@router.get("/counts", summary="Incidents and rates (per 1,000 residents, per grid worker, per km2) by place")
async def get_counts(request: Request, where: Where, unit: Unit = UNIT, size_m: float | None = SIZE) -> Response:
    return await _answer(request, counts_job, where=where, unit=unit, size_m=_size(unit, size_m))


@router.get("/density", summary="Hexagon density: incidents per hexagon and per km2")
async def get_density(
    request: Request,
    where: Where,
    size_m: float = Query(DEFAULT_HEX_M, description="Hexagon side in metres."),
    include_empty: bool = Query(False, description="Also the hexagons with no incident."),
) -> Response:
    return await _answer(request, density_job, where=where, size_m=size_m, include_empty=include_empty)


@router.get("/kde", summary="Kernel density surface (Gaussian), incidents per km2 on square cells")
async def get_kde(
    request: Request,
    where: Where,
    cell_m: float = Query(500.0, description="Cell side in metres."),
    bandwidth_m: float | None = Query(None, description="Kernel standard deviation in metres; default Scott's rule."),
    min_per_km2: float = Query(0.01, ge=0, description="Leave out cells below this density."),
) -> Response:
    return await _answer(request, kde_job, where=where, cell_m=cell_m, bandwidth_m=bandwidth_m, min_per_km2=min_per_km2)


@router.get("/clusters", summary="DBSCAN clusters of incidents (ST_ClusterDBSCAN), as convex hulls")
async def get_clusters(
    request: Request,
    where: Where,
    eps_m: float = Query(100.0, description="Neighbourhood radius in metres."),
    min_points: int = Query(20, description="Incidents within eps_m that make a core point."),
) -> Response:
    return await _answer(request, clusters_job, where=where, eps_m=eps_m, min_points=min_points)


@router.get("/hotspots", summary="Getis-Ord Gi* hot and cold spots with FDR, classed at 90/95/99%")
async def get_hotspots(
    request: Request,
    where: Where,
    unit: Unit = UNIT,
    size_m: float | None = SIZE,
    value: Literal["count", "per_1000"] = Query("count", description="count, or per_1000 residents."),
    confidence: Confidence = CONFIDENCE,
    inference: Literal["analytic", "permutation"] = Query("analytic", description="How p-values are found."),
    permutations: int = Query(999, description="Conditional permutations (0 to 9999)."),
    significant_only: bool = Query(False, description="Only the hot and cold units."),
) -> Response:
    return await _answer(
        request,
        hotspots_job,
        where=where,
        significant_only=significant_only,
        unit=unit,
        size_m=_size(unit, size_m),
        value=value,
        confidence=float(confidence),
        inference=inference,
        permutations=permutations,
    )


@router.get("/emerging", summary="Emerging hot spots (Gi* per time step, Mann-Kendall trend, ArcGIS's patterns)")
async def get_emerging(
    request: Request,
    where: Where,
    unit: Unit = UNIT,
    size_m: float | None = SIZE,
    step_days: int = Query(7, ge=1, le=3660, description="Time step in days; at least 10 steps in the span."),
    value: Literal["count", "per_1000"] = Query("count", description="count, or per_1000 residents."),
    confidence: Confidence = CONFIDENCE,
    with_pattern_only: bool = Query(False, description="Only the units with a pattern."),
) -> Response:
    return await _answer(
        request,
        emerging_job,
        where=where,
        with_pattern_only=with_pattern_only,
        unit=unit,
        size_m=_size(unit, size_m),
        step_days=step_days,
        confidence=float(confidence),
        value=value,
    )


@router.get("/compare", summary="Two spans by place: the change and whether it is beyond chance")
async def get_compare(
    request: Request,
    settings: SettingsDep,
    principal: Annotated[Principal, Depends(current_principal)],
    preset: Literal["day", "week", "month", "year"] | None = Query(
        None, description="today/yesterday, this week/last, month on month, year on year, up to `at`."
    ),
    at: Moment | None = Query(None, description="With preset: the moment compared up to (default now)."),
    base_start: Moment | None = Query(None),
    base_end: Moment | None = Query(None),
    current_start: Moment | None = Query(None),
    current_end: Moment | None = Query(None),
    unit: Unit = UNIT,
    size_m: float | None = SIZE,
    category: list[str] | None = CATEGORY,
    confidence: Confidence = Query("0.95", description="Confidence for calling a change significant."),
) -> Response:
    base, current = analysis.two_spans(
        preset, at, base=(base_start, base_end), current=(current_start, current_end), zone=settings.place.timezone
    )
    return await _answer(
        request,
        compare_job,
        base=base,
        current=current,
        category=category,
        scope=principal.jurisdiction,
        unit=unit,
        size_m=_size(unit, size_m),
        confidence=float(confidence),
    )


@router.get("/rankings", summary="Closed-loop rates by county, town, village or department, ranked")
async def get_rankings(
    request: Request,
    where: Where,
    level: Literal["county", "town", "village", "department"] = Query(
        "town", description="department: by the department handling the cases (county departments, town offices)."
    ),
    order_by: Literal["handled_rate", "closed_rate", "overdue_rate", "median_hours_to_close", "satisfaction"] = Query(
        "overdue_rate", description="The metric ranked on."
    ),
    as_of: Moment | None = Query(
        None, description="Open cases count as overdue past their deadline at this moment (default now)."
    ),
) -> Response:
    return await _answer(request, rankings_job, where=where, level=level, order_by=order_by, as_of=as_of)


@router.get("/coverage", summary="Camera coverage of incidents and hot spots; hot spots no camera sees")
async def get_coverage(
    request: Request,
    where: Where,
    unit: Unit = UNIT,
    size_m: float | None = SIZE,
    confidence: Confidence = Query("0.95", description="Hot spots at this confidence or more."),
    online_only: bool = Query(False, description="Count only cameras online now."),
) -> Response:
    return await _answer(
        request,
        coverage_job,
        where=where,
        unit=unit,
        size_m=_size(unit, size_m),
        confidence=float(confidence),
        online_only=online_only,
    )
