"""Two-span comparisons and the closed loop's rankings, against plain SQL and the planted truth."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sqlalchemy import text

from geo_service.analysis import compare_spans, incident_filter, make_span, preset_spans, rankings
from geo_service.analysis.stats import two_span_test
from geo_service.errors import InvalidInput
from geo_service.settings import Settings

from .conftest import ground_truth

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
ZONE = PLACE.timezone

BJ = ZoneInfo("Asia/Shanghai")
TRUTH = ground_truth()
YEAR = ("2025-11-17", "2026-11-16")


def test_presets_are_like_for_like():
    at = datetime(2026, 11, 12, 15, 30, tzinfo=BJ)  # a Thursday afternoon
    base, current = preset_spans("week", at, zone=ZONE)
    assert current.start == datetime(2026, 11, 9, tzinfo=BJ) and current.end == at
    assert base.start == datetime(2026, 11, 2, tzinfo=BJ) and base.end == datetime(2026, 11, 5, 15, 30, tzinfo=BJ)
    base, current = preset_spans("day", at, zone=ZONE)
    assert base.start == datetime(2026, 11, 11, tzinfo=BJ) and base.end == datetime(2026, 11, 11, 15, 30, tzinfo=BJ)
    base, current = preset_spans("month", datetime(2026, 3, 31, 12, tzinfo=BJ), zone=ZONE)
    assert base.start == datetime(2026, 2, 1, tzinfo=BJ) and base.end == datetime(2026, 3, 1, tzinfo=BJ)  # capped
    base, current = preset_spans("year", at, zone=ZONE)
    assert base.start == datetime(2025, 1, 1, tzinfo=BJ) and base.end == datetime(2025, 11, 12, 15, 30, tzinfo=BJ)
    with pytest.raises(InvalidInput) as error:
        preset_spans("fortnight", at, zone=ZONE)
    assert error.value.field == "preset"


def test_two_span_test_is_the_exact_binomial_test():
    """With equal spans the doubled tail is scipy's exact two-sided binomial test."""
    for a, b in [(0, 0), (3, 9), (40, 22), (100, 100), (0, 12)]:
        expected = 1.0 if a + b == 0 else stats.binomtest(a, a + b, 0.5).pvalue
        assert two_span_test(np.array([a]), np.array([b]), 0.5)[0] == pytest.approx(expected)


def test_a_new_hotspot_shows_as_a_significant_rise(engine):
    """H05 and H06 start in week 30: ten weeks before against ten weeks after, by grid."""
    new = [h for h in TRUTH["hotspots"] if h["kind"] == "new"]
    start = datetime.fromisoformat(TRUTH["period"]["start"])
    week = pd.Timedelta(days=7)
    base = make_span(start + 20 * week, start + 30 * week, zone=ZONE)
    current = make_span(start + 30 * week, start + 40 * week, zone=ZONE)
    for h in new:
        frame = compare_spans(engine, base, current, (h["category"],), "grid", place=PLACE)
        planted = frame["code"].apply(lambda c: any(c.startswith(p) for p in h["grid_codes"]))  # noqa: B023
        rising = frame[(frame["direction"] == "up")]
        assert len(rising) > 0 and planted[rising.index].mean() >= 0.5, (h["id"], rising[["code", "base", "current"]])
        assert (frame["direction"] == "down").sum() == 0
        # counts agree with plain SQL
        with engine.connect() as connection:
            n = connection.execute(
                text("""SELECT count(*) FROM incidents WHERE category = :c AND reported_at >= :s
                AND reported_at < :e AND status NOT IN ('rejected', 'merged')"""),
                {"c": h["category"], "s": current.start, "e": current.end},
            ).scalar()
        assert frame["current"].sum() == n == frame.attrs["total"]["current"]


def test_unequal_spans_compare_rates(engine):
    base, current = make_span("2026-01-01", "2026-03-01", zone=ZONE), make_span("2026-03-01", "2026-03-31", zone=ZONE)
    frame = compare_spans(engine, base, current, ("public_service",), "town", place=PLACE)
    np.testing.assert_allclose(frame["expected"], frame["base"] * current.days / base.days)
    assert frame.attrs["test"].startswith("conditional binomial")


@pytest.fixture(scope="module")
def towns(engine):
    with engine.connect() as connection:
        where = incident_filter(connection, make_span(*YEAR, zone=ZONE))
    return rankings(engine, where, "town", as_of=datetime(2026, 11, 16, tzinfo=BJ), place=PLACE)


def test_rankings_follow_the_planned_late_rates(towns):
    """The generator plans each town's share of dispatched cases resolved late: the measured overdue
    rates rank the towns the same way, the two notably late last, the two punctual first."""
    planned = pd.Series(TRUTH["town_late_rate"])
    measured = towns.set_index("code")["overdue_rate"]
    rho = stats.spearmanr(planned[measured.index], measured).statistic
    print(f"Spearman between planned and measured overdue rates by town: {rho:.3f}")
    assert rho >= 0.85
    worst, best = planned.nlargest(2).index, planned.nsmallest(2).index
    assert set(towns["code"].tail(2)) == set(worst)
    assert set(towns["code"].head(2)) == set(best)
    assert list(towns["rank"]) == sorted(towns["rank"])


def test_ranking_figures_match_plain_sql(engine, towns):
    with engine.connect() as connection:
        expected = pd.read_sql(
            text("""
            SELECT town_code AS code, count(*) AS cases, count(*) FILTER (WHERE status = 'closed') AS closed,
                   avg(satisfaction) AS satisfaction,
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - reported_at))
                       FILTER (WHERE status = 'closed') / 3600 AS median_hours
              FROM incidents WHERE reported_at >= '2025-11-17 00:00+08' AND reported_at < '2026-11-16 00:00+08'
               AND status NOT IN ('rejected', 'merged') GROUP BY 1"""),
            connection,
        ).set_index("code")
    got = towns.set_index("code").loc[expected.index]
    assert (got["cases"] == expected["cases"]).all()
    np.testing.assert_allclose(got["closed_rate"], expected["closed"] / expected["cases"])
    np.testing.assert_allclose(got["satisfaction"], expected["satisfaction"].astype(float))
    np.testing.assert_allclose(got["median_hours_to_close"], expected["median_hours"].astype(float))
    assert towns["name"].notna().all()


def test_village_rankings_name_their_town(engine):
    with engine.connect() as connection:
        where = incident_filter(connection, make_span(*YEAR, zone=ZONE), ["dispute"])
    villages = rankings(engine, where, "village", order_by="satisfaction", place=PLACE)
    assert len(villages) > 250 and villages["town_name"].notna().all()
    assert villages["satisfaction"].is_monotonic_decreasing
    assert (villages["code"].str[:9] == villages["town_code"].str[:9]).all()
    with pytest.raises(InvalidInput) as error:
        rankings(engine, where, "village", order_by="speed", place=PLACE)
    assert error.value.field == "order_by"
