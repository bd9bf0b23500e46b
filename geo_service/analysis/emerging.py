"""Emerging hot spots, in the manner of ArcGIS Pro's Emerging Hot Spot Analysis.

The span is cut into equal time steps, anchored at its end (a partial first step is dropped, so
the final step, which most patterns turn on, is whole). PostGIS counts each unit's incidents per
step (the space-time cube); Gi* is taken at every step over the same weights (analytic z, as
ArcGIS does; Benjamini-Hochberg per step); the Mann-Kendall test gives each unit's trend in its
Gi* z-scores. ArcGIS's neighbourhood may also reach into earlier steps; here it is spatial only.

Each unit is then named by ArcGIS's definitions (hot shown; cold mirrors them):

new
    hot at the final step and never before.
consecutive
    a single uninterrupted run of at least two hot steps ending at the final step, never hot
    before the run, and hot in less than 90% of the steps.
intensifying / diminishing
    hot in at least 90% of the steps including the final one, and the intensity of clustering
    rising / falling significantly (Mann-Kendall).
persistent
    hot in at least 90% of the steps, no significant trend.
sporadic
    hot at the final step, on and off before, in less than 90% of the steps, never cold.
oscillating
    hot at the final step, cold at some earlier step, hot in less than 90% of the steps.
historical
    not hot at the final step, but hot in at least 90% of the steps.
no pattern detected
    none of these.

A unit hot earlier but neither at the end nor in 90% of the steps (a hotspot that has faded) has
no ArcGIS pattern; its falling trend (``trend`` = 'down') still says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.gi import binary_matrix, gi_star_z
from geo_service.analysis.span import IncidentFilter, Span
from geo_service.analysis.stats import check_confidence, mann_kendall, z_classes
from geo_service.analysis.units import check_unit, keyed_params, keyed_sql, no_jit, units_for
from geo_service.analysis.weights import unit_weights, with_self
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import PlaceSettings

MIN_STEPS = 10  # ArcGIS asks for at least ten time steps
MAX_STEPS = 400
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating", "historical")
NO_PATTERN = "no pattern detected"


@dataclass
class SpaceTimeCube:
    """Counts per unit (rows of ``frame``) and time step (columns); ``steps`` are the steps' starts."""

    frame: gpd.GeoDataFrame
    steps: list[datetime]
    step: timedelta
    counts: np.ndarray


@dataclass
class EmergingHotspots:
    """The per-unit answer (``frame``) and the per-step Gi* behind it (units x steps)."""

    frame: gpd.GeoDataFrame
    steps: list[datetime]
    counts: np.ndarray
    z: np.ndarray
    hot: np.ndarray
    cold: np.ndarray


def space_time_cube(
    engine: Engine,
    where: IncidentFilter,
    unit: str = "grid",
    size_m: float | None = None,
    step_days: int = 7,
    *,
    place: PlaceSettings,
) -> SpaceTimeCube:
    """Incidents per unit and time step, counted in PostGIS (``place``: the county's zone and metric
    projection, ``settings.place``)."""
    size = check_unit(unit, size_m)
    if not isinstance(step_days, int) or step_days < 1:
        raise InvalidInput(
            t("step_days must be a whole number of days, at least 1, not {step_days!r}", step_days=step_days),
            field="step_days",
        )
    # Whole steps in the span, counted in days first: a step longer than any span is no timedelta.
    n_steps = int((where.span.end - where.span.start) / timedelta(days=1) // step_days)
    if n_steps < MIN_STEPS:
        raise InvalidInput(
            t(
                "the span holds {n_steps} whole steps of {step_days} days; emerging hot spots need at least {MIN_STEPS}: a longer span or shorter steps",
                n_steps=n_steps,
                step_days=step_days,
                MIN_STEPS=MIN_STEPS,
            ),
            field="step_days",
        )
    if n_steps > MAX_STEPS:
        raise InvalidInput(
            t(
                "the span holds {n_steps} steps of {step_days} days, more than {MAX_STEPS}: longer steps",
                n_steps=n_steps,
                step_days=step_days,
                MAX_STEPS=MAX_STEPS,
            ),
            field="step_days",
        )
    step = timedelta(days=step_days)
    origin = where.span.end - n_steps * step
    cut = IncidentFilter(Span(origin, where.span.end), where.categories, where.scope)
    # The cells of the cube come back as three arrays in one row (a row per cell is slower to
    # fetch); date_part's float8 seconds (extract's are numeric, slower) are exact to the
    # microsecond over any span allowed, so a step's boundary falls where it did.
    sql = text(f"""WITH {keyed_sql(unit, cut, {"t": "i.reported_at"})}
                   SELECT array_agg(key) AS keys, array_agg(step) AS steps, array_agg(n) AS ns
                     FROM (SELECT key, floor(date_part('epoch', t - :origin) / :step_s)::int AS step, count(*) AS n
                             FROM keyed GROUP BY 1, 2) cells""")
    with engine.begin() as connection:
        no_jit(connection)
        frame = units_for(connection, cut, unit, size, place=place)
        params = {
            **keyed_params(connection, cut, unit, size, place=place),
            "origin": origin,
            "step_s": step.total_seconds(),
        }
        keys, cells, found = connection.execute(sql, params).one()
    rows = pd.Index(frame["code"]).get_indexer(pd.Index(keys or [], dtype=object))
    inside = rows >= 0  # a unit no longer in force, or outside the scope, is not in the cube
    cube = np.zeros((len(frame), n_steps))
    cube[rows[inside], np.asarray(cells or [], int)[inside]] = np.asarray(found or [], float)[inside]
    frame["count"] = cube.sum(axis=1).astype(int)
    frame.attrs.update(unit=unit, size_m=size, filter=cut.to_dict(), step_days=step_days)
    return SpaceTimeCube(frame, [origin + k * step for k in range(n_steps)], step, cube)


def classify(hot: np.ndarray, cold: np.ndarray, trend_z: float, trend_significant: bool) -> str:
    """ArcGIS's pattern for one unit's series of hot and cold steps (see the module's notes)."""
    for spot, other, sign, kind in ((hot, cold, 1, "hot spot"), (cold, hot, -1, "cold spot")):
        pattern = _pattern(np.asarray(spot, bool), np.asarray(other, bool), sign * trend_z, trend_significant)
        if pattern:
            return f"{pattern} {kind}"
    return NO_PATTERN


def _pattern(spot: np.ndarray, other: np.ndarray, rising: float, trend_significant: bool) -> str | None:
    n = len(spot)
    share = spot.sum() / n
    if share >= 0.9:
        if not spot[-1]:
            return "historical"
        if trend_significant and rising > 0:
            return "intensifying"
        if trend_significant and rising < 0:
            return "diminishing"
        return "persistent"
    if not spot[-1]:
        return None
    if spot.sum() == 1:
        return "new"
    run = n - (np.flatnonzero(~spot).max() + 1 if (~spot).any() else 0)  # length of the final run
    if run >= 2 and not spot[: n - run].any():
        return "consecutive"
    if other[:-1].any():
        return "oscillating"
    return "sporadic"


def emerging_hotspots(
    engine: Engine,
    where: IncidentFilter,
    unit: str = "grid",
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    step_days: int = 7,
    confidence: float = 0.90,
    value: str = "count",
) -> EmergingHotspots:
    """Emerging hot and cold spots of the incidents ``where`` selects (see the module's notes).

    Parameters
    ----------
    place
        The county's zone and metric projection (``settings.place``).
    step_days
        The length of a time step; the span must hold at least 10 whole steps.
    confidence
        A step is hot or cold at this confidence (after the correction), and a trend significant.
    value
        ``count``, or ``per_1000`` (per 1,000 residents; grids, villages and towns only).

    Returns
    -------
    EmergingHotspots
        ``frame`` has per unit: ``count`` (incidents in the steps), ``pattern``, ``hot_steps``,
        ``cold_steps``, ``n_steps``, ``final_z``, ``trend_tau``, ``trend_z``, ``trend_p`` and
        ``trend`` ('up', 'down' or 'none', of the Gi* z-scores), and ``count_trend`` (the same test
        on the counts themselves).
    """
    check_confidence(confidence)
    if value not in ("count", "per_1000") or (value == "per_1000" and unit == "hex"):
        raise InvalidInput(t("value must be count, or per_1000 for grids, villages and towns"), field="value")
    cube = space_time_cube(engine, where, unit, size_m, step_days, place=place)
    frame = cube.frame
    graph, described = unit_weights(frame, unit, frame.attrs["size_m"])
    graph = with_self(graph)
    values = cube.counts
    if value == "per_1000":
        population = frame["population"].to_numpy(float)
        values = np.divide(values * 1000, population[:, None], out=np.zeros_like(values), where=population[:, None] > 0)
    n_units, n_steps = values.shape
    # Gi* at every step at once (analysis.gi); a step with the same value everywhere has none.
    z = gi_star_z(binary_matrix(graph), values) if n_units > 1 else np.full(values.shape, np.nan)
    z[:, np.ptp(values, axis=0) == 0] = np.nan
    hot = np.zeros((n_units, n_steps), bool)
    cold = np.zeros((n_units, n_steps), bool)
    for k in range(n_steps):  # the correction is per step
        classes = z_classes(z[:, k], confidence)[2]
        hot[:, k] = [c.startswith("hot") for c in classes]
        cold[:, k] = [c.startswith("cold") for c in classes]
    z = np.nan_to_num(z, nan=0.0)
    alpha = 1 - confidence
    tau, trend_z, trend_p = mann_kendall(z)
    count_tau, count_z, count_p = mann_kendall(values)
    pattern = np.full(n_units, NO_PATTERN, dtype=object)
    for row in np.flatnonzero(hot.any(axis=1) | cold.any(axis=1)):
        pattern[row] = classify(hot[row], cold[row], trend_z[row], trend_p[row] <= alpha)
    frame["pattern"] = pattern
    frame["hot_steps"] = hot.sum(axis=1)
    frame["cold_steps"] = cold.sum(axis=1)
    frame["n_steps"] = n_steps
    frame["final_z"] = z[:, -1]
    frame["trend_tau"], frame["trend_z"], frame["trend_p"] = tau, trend_z, trend_p
    frame["trend"] = _direction(trend_z, trend_p, alpha)
    frame["count_trend"] = _direction(count_z, count_p, alpha)
    frame.attrs.update(
        value=value,
        confidence=confidence,
        steps=n_steps,
        first_step=cube.steps[0].isoformat(),
        weights=described + "; each unit its own neighbour (Gi*)",
    )
    return EmergingHotspots(frame, cube.steps, cube.counts, z, hot, cold)


def _direction(z: np.ndarray, p: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(p <= alpha, np.where(z > 0, "up", "down"), "none").astype(object)
