"""Two spans compared by place: today and yesterday, this week and last, month on month, year on
year, or any two spans; the change, and whether it is beyond chance.

For each unit, if incidents came at one steady rate the count of the current span, given the two
spans' total, would be binomial with the current span's share of the combined duration (the
conditional test for two Poisson counts). Spans of unequal length are compared as rates. The
p-values are adjusted over all units (Benjamini-Hochberg) before a change is called significant.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Engine

from geo_service.analysis.span import IncidentFilter, Span
from geo_service.analysis.stats import check_confidence, fdr, two_span_test
from geo_service.analysis.units import attach, check_unit, keyed_params, keyed_sql, no_jit, units_for
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.settings import PlaceSettings


def compare_spans(
    engine: Engine,
    base: Span,
    current: Span,
    categories: tuple[str, ...] = (),
    unit: str = "grid",
    size_m: float | None = None,
    *,
    place: PlaceSettings,
    confidence: float = 0.95,
    scope: Jurisdiction | None = None,
) -> gpd.GeoDataFrame:
    """Incidents of ``base`` against ``current`` by unit.

    Parameters
    ----------
    base, current
        The spans (e.g. last week and this week; see :func:`geo_service.analysis.span.preset_spans`).
    categories
        Categories counted (all when empty; check them with ``incident_filter``).
    place
        The county's zone and metric projection (``settings.place``).
    confidence
        A change is ``significant`` when its adjusted p-value is at most 1 - confidence.

    Returns
    -------
    geopandas.GeoDataFrame
        Per unit (boundaries in force at the end of ``current``): ``base``, ``current`` (counts),
        ``expected`` (the current count the base rate predicts for the current span's length),
        ``change`` (current - expected), ``change_pct``, ``rate_ratio`` (current rate over base
        rate), ``p_value``, ``p_fdr``, ``significant`` and ``direction`` ('up', 'down', 'no change').
        ``attrs['total']`` holds the same for the whole county.
    """
    check_confidence(confidence)
    size = check_unit(unit, size_m)
    whole = Span(min(base.start, current.start), max(base.end, current.end))
    scope = scope or EVERYTHING
    where = IncidentFilter(whole, tuple(categories), scope)
    sql = text(f"""WITH {keyed_sql(unit, where, {"t": "i.reported_at"})}
                   SELECT key, count(*) FILTER (WHERE t >= :base_start AND t < :base_end) AS base,
                          count(*) FILTER (WHERE t >= :current_start AND t < :current_end) AS current
                     FROM keyed GROUP BY key""")
    with engine.begin() as connection:
        no_jit(connection)
        params = {
            **keyed_params(connection, where, unit, size, place=place),
            "base_start": base.start,
            "base_end": base.end,
            "current_start": current.start,
            "current_end": current.end,
        }
        frame = units_for(connection, IncidentFilter(current, tuple(categories), scope), unit, size, place=place)
        found = pd.read_sql(sql, connection, params=params, index_col="key")
    frame = attach(frame, found, {"base": 0, "current": 0})
    share = current.days / (base.days + current.days)
    frame = frame.assign(
        **_change(frame["base"].to_numpy(float), frame["current"].to_numpy(float), base, current, share, confidence)
    )
    frame[["base", "current"]] = frame[["base", "current"]].astype(int)
    total = _change(
        np.array([found["base"].sum()], float),
        np.array([found["current"].sum()], float),
        base,
        current,
        share,
        confidence,
        adjust=False,
    )
    frame.attrs.update(
        unit=unit,
        size_m=size,
        categories=list(categories) or "all",
        confidence=confidence,
        base=base.to_dict(),
        current=current.to_dict(),
        total={k: (v[0].item() if hasattr(v[0], "item") else v[0]) for k, v in total.items()},
        test="conditional binomial test of the two counts (two-sided), Benjamini-Hochberg over units",
    )
    return frame


def _change(
    base_n: np.ndarray,
    current_n: np.ndarray,
    base: Span,
    current: Span,
    share: float,
    confidence: float,
    adjust: bool = True,
) -> dict[str, np.ndarray]:
    expected = base_n * current.days / base.days
    with np.errstate(divide="ignore", invalid="ignore"):
        change_pct = np.where(expected > 0, (current_n - expected) / expected * 100, np.nan)
        rate_ratio = np.where(base_n > 0, (current_n / current.days) / (base_n / base.days), np.nan)
    p = two_span_test(current_n, base_n, share)
    p_adjusted = fdr(p) if adjust else p
    significant = p_adjusted <= 1 - confidence
    direction = np.where(significant, np.where(current_n > expected, "up", "down"), "no change").astype(object)
    return {
        "base": base_n,
        "current": current_n,
        "expected": expected,
        "change": current_n - expected,
        "change_pct": change_pct,
        "rate_ratio": rate_ratio,
        "p_value": p,
        "p_fdr": p_adjusted,
        "significant": significant,
        "direction": direction,
    }
