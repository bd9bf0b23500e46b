"""Emerging hot spots: the Mann-Kendall test against pymannkendall, ArcGIS's patterns on hand-made
series, and the demo county's planted patterns found (printed per hotspot)."""

from __future__ import annotations

import numpy as np
import pymannkendall
import pytest

from geo_service.analysis import counts, emerging_hotspots, incident_filter, make_span, space_time_cube
from geo_service.analysis.emerging import classify
from geo_service.analysis.stats import mann_kendall
from geo_service.analysis.weights import unit_weights
from geo_service.errors import InvalidInput
from geo_service.settings import Settings

from .conftest import ground_truth

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
ZONE = PLACE.timezone

TRUTH = ground_truth()["hotspots"]
YEAR = ("2025-11-17", "2026-11-16")


def _where(engine, categories=None, span=YEAR):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(*span, zone=ZONE), categories)


def test_mann_kendall_matches_pymannkendall_with_ties():
    rng = np.random.default_rng(3)
    series = np.vstack(
        [
            rng.poisson(2, (40, 13)),
            rng.poisson(2, (40, 13)) + np.arange(13) // 3,
            rng.normal(size=(20, 13)),
            np.zeros((1, 13)),
        ]
    ).astype(float)
    tau, z, p = mann_kendall(series)
    for row in range(len(series)):
        expected = pymannkendall.original_test(series[row])
        assert z[row] == pytest.approx(expected.z, abs=1e-9)
        assert p[row] == pytest.approx(expected.p, abs=1e-9)
        assert tau[row] == pytest.approx(expected.Tau, abs=1e-9)


def _steps(pattern: str) -> tuple[np.ndarray, np.ndarray]:
    """'h' hot, 'c' cold, '.' neither, one character a step."""
    return np.array([c == "h" for c in pattern]), np.array([c == "c" for c in pattern])


@pytest.mark.parametrize(
    ("series", "trend_z", "significant", "expected"),
    [
        ("..........h", 0.0, False, "new hot spot"),
        ("........hhh", 3.0, True, "consecutive hot spot"),
        ("hhhhhhhhhhh", 3.0, True, "intensifying hot spot"),
        ("hhhhhhhhhhh", -3.0, True, "diminishing hot spot"),
        ("hhhhhhhhhhh", 0.5, False, "persistent hot spot"),
        (".hhhhhhhhhh", 0.5, False, "persistent hot spot"),
        ("hhhhhhhhhh.", 0.5, False, "historical hot spot"),
        ("h..h.h...hh", 0.5, False, "sporadic hot spot"),
        ("c..h.h...hh", 0.5, False, "oscillating hot spot"),
        ("hhhhh......", -3.0, True, "no pattern detected"),  # faded: no ArcGIS pattern
        ("...........", 0.0, False, "no pattern detected"),
        ("........ccc", -3.0, True, "consecutive cold spot"),
        ("ccccccccccc", -3.0, True, "intensifying cold spot"),
        ("h.c..c....c", 0.0, False, "oscillating cold spot"),
    ],
)
def test_arcgis_patterns(series, trend_z, significant, expected):
    hot, cold = _steps(series)
    assert classify(hot, cold, trend_z, significant) == expected


@pytest.fixture(scope="module")
def emerging_by_category(engine):
    return {
        category: emerging_hotspots(engine, _where(engine, [category]), "grid", step_days=28, place=PLACE)
        for category in sorted({h["category"] for h in TRUTH})
    }


# what a planted pattern should look like at 4-week steps, in ArcGIS's terms and in the trend
EXPECTED = {
    "persistent": lambda f: f["pattern"].isin(["persistent hot spot", "intensifying hot spot", "diminishing hot spot"]),
    "new": lambda f: f["pattern"].isin(["new hot spot", "consecutive hot spot"]),
    "intensifying": lambda f: f["trend"] == "up",
    "diminishing": lambda f: (f["trend"] == "down") & (f["count_trend"] != "up"),
}


def test_planted_patterns_are_found(emerging_by_category):
    """A planted hotspot behaves as planted when most of its grids do; the sporadic one when its
    bursts' steps are hot. Printed per hotspot, with the share found."""
    outcome = {}
    for h in TRUTH:
        result = emerging_by_category[h["category"]]
        frame = result.frame
        mask = frame["code"].apply(lambda c: any(c.startswith(p) for p in h["grid_codes"])).to_numpy()  # noqa: B023
        if h["kind"] == "sporadic":
            weekly = np.array(h["weekly_profile"]["counts"])
            burst_steps = {int(w) // 4 for w in np.flatnonzero(weekly)}
            hot_steps = set(np.flatnonzero(result.hot[mask].any(axis=0)))
            ok = burst_steps <= hot_steps and len(hot_steps) <= len(burst_steps) + 1
        else:
            ok = EXPECTED[h["kind"]](frame[mask]).mean() > 0.5
        outcome[h["id"]] = (
            h["kind"],
            ok,
            sorted(set(frame.loc[mask, "pattern"])),
            sorted(set(frame.loc[mask, "trend"])),
        )
    for key, value in outcome.items():
        print(key, *value)
    found = sum(ok for _, ok, _, _ in outcome.values()) / len(outcome)
    print(f"planted space-time patterns found: {found:.2f}")
    assert found >= 0.8
    assert all(ok for kind, ok, _, _ in outcome.values() if kind in ("new", "intensifying", "diminishing"))


def test_consecutive_hot_spots_are_planted(emerging_by_category):
    """Precision of 'consecutive hot spot' (a run of hot steps up to the end, never hot before): the
    grids so labelled are in, or next to, a planted hotspot that started late or rose from almost
    nothing (Gi* sums a grid's neighbours, so the ring around a hotspot heats with it). Single-step
    'new hot spots' are printed, not held to a floor: at 90% a few of a thousand grids flicker."""
    labelled = right = single = 0
    for category, result in emerging_by_category.items():
        frame = result.frame
        late = np.array(
            [
                any(
                    c.startswith(p)
                    for h in TRUTH
                    if h["category"] == category and h["kind"] in ("new", "intensifying")
                    for p in h["grid_codes"]
                )
                for c in frame["code"]
            ]
        )
        graph, _ = unit_weights(frame, "grid")
        near = late | (graph.sparse @ late.astype(float) > 0)
        chosen = (frame["pattern"] == "consecutive hot spot").to_numpy()
        labelled += chosen.sum()
        right += (chosen & near).sum()
        single += (frame["pattern"] == "new hot spot").sum()
    print(f"consecutive hot spots in or next to planted late hotspots: {right}/{labelled}; single-step new: {single}")
    assert labelled >= 5 and right / labelled >= 0.8


def test_cube_adds_up_to_the_counts(engine):
    where = _where(engine, ["dispute"])
    cube = space_time_cube(engine, where, "village", step_days=28, place=PLACE)
    assert cube.counts.shape == (293, 13)
    assert cube.steps[-1] + cube.step == where.span.end  # anchored at the end
    assert cube.steps[0] >= where.span.start
    whole = counts(
        engine, incident_filter_for(engine, cube.steps[0], where.span.end, ["dispute"]), "village", place=PLACE
    )
    assert list(cube.counts.sum(axis=1).astype(int)) == list(whole["count"])


def incident_filter_for(engine, start, end, categories):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(start, end, zone=ZONE), categories)


def test_hexagon_cube(engine):
    result = emerging_hotspots(
        engine, _where(engine, ["security_hazard"]), "hex", 300, step_days=28, confidence=0.95, place=PLACE
    )
    assert result.z.shape == (len(result.frame), 13)
    assert (result.frame["pattern"] != "no pattern detected").sum() > 0


def test_too_few_steps_is_refused(engine):
    with pytest.raises(InvalidInput) as error:
        emerging_hotspots(engine, _where(engine, None, ("2026-09-01", "2026-11-01")), step_days=7, place=PLACE)
    assert error.value.field == "step_days" and "at least 10" in error.value.message
