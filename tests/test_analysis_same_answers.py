"""The analyses give the answers they gave before they were made fast.

Two checks for each of a few fixed questions over the demo year: the answer against the way it
used to be computed, run here side by side (esda's ``G_Local`` per series, libpysal's distance
band for hexagons), unit by unit; and against figures recorded from the earlier code (counts and
classes exactly, z-scores and densities to floating tolerance), so that a change to either path
shows.
"""

from __future__ import annotations

import math
import warnings

import esda
import numpy as np
import pytest
from libpysal.graph import Graph

from geo_service.analysis import emerging_hotspots, hotspots, incident_filter, kernel_density, make_span
from geo_service.analysis.gi import binary_matrix, conditional_gi_star
from geo_service.analysis.weights import hexagon_weights, unit_weights, with_self
from geo_service.settings import Settings

PLACE = Settings().place
YEAR = ("2025-11-17", "2026-11-16")


def _where(engine, categories=None):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(*YEAR, zone=PLACE.timezone), categories)


def _esda(y: np.ndarray, graph: Graph, permutations: int, seed: int = 12345):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(y, graph, transform="B", star=True, permutations=permutations, seed=seed, n_jobs=1)


def _distance_band(frame, size: float) -> Graph:
    """The hexagons' weights as they were built before: a distance band over their centres."""
    i, j = frame["i"].to_numpy(), frame["j"].to_numpy()
    xy = np.column_stack([1.5 * size * i, math.sqrt(3) * size * (j + (i & 1) / 2)])
    return Graph.build_distance_band(xy, threshold=math.sqrt(3) * size * 1.01, binary=True)


# -- against the earlier way, unit by unit ---------------------------------------------------------------


def test_hexagon_hotspots_match_esda_over_the_distance_band(engine):
    """300 m hexagons of security hazards, permutation inference: the same z, z_sim and p_sim as
    esda's G_Local (numpy path, same seed) over the distance band the weights used to be."""
    frame = hotspots(
        engine, _where(engine, ["security_hazard"]), "hex", 300, inference="permutation", seed=7, place=PLACE
    )
    band = _distance_band(frame, 300.0)
    assert band.adjacency.reset_index().equals(hexagon_weights(frame["i"], frame["j"]).adjacency.reset_index())
    direct = _esda(frame["count"].to_numpy(float), with_self(band), 999, seed=7)
    np.testing.assert_allclose(frame["gi_z"], direct.Zs, rtol=1e-12)
    np.testing.assert_allclose(frame["z_sim"], direct.z_sim, rtol=1e-12)
    assert (frame["p_sim"].to_numpy() == np.minimum(1.0, 2 * direct.p_sim)).all()


@pytest.mark.parametrize("value", [np.arange(40.0) % 7, np.linspace(0.3, 9.1, 40) ** 1.5])
def test_permutations_match_esda_on_counts_and_on_rates(value):
    """Whole numbers (summed by steps) and fractions (neighbour by neighbour), on a small lattice
    with an island and unequal cardinalities: esda's p_sim exactly, z_sim to rounding."""
    i, j = np.repeat(np.arange(6), 6), np.tile(np.arange(6), 6)
    i, j = np.r_[i, 20, 21, 22, 40], np.r_[j, 0, 0, 1, 9]  # a short chain and an island
    graph = with_self(hexagon_weights(i, j))
    ours = conditional_gi_star(binary_matrix(graph), value, 999, 3)
    direct = _esda(value, graph, 999, seed=3)
    assert (ours.p_sim == direct.p_sim).all()
    np.testing.assert_allclose(ours.z_sim, direct.z_sim, rtol=1e-10)


def test_emerging_matches_gi_star_step_by_step(engine):
    """Weekly grid steps: each step's z is esda's G_Local on that step's counts."""
    result = emerging_hotspots(engine, _where(engine, ["dispute"]), "grid", step_days=7, place=PLACE)
    graph, _ = unit_weights(result.frame, "grid")
    graph = with_self(graph)
    for k in range(result.counts.shape[1]):
        y = result.counts[:, k]
        expected = _esda(y, graph, 0).Zs if np.ptp(y) > 0 else np.zeros(len(y))
        np.testing.assert_allclose(result.z[:, k], expected, rtol=1e-9, atol=1e-12)


# -- against figures recorded from the earlier code ----------------------------------------------------


def test_hexagon_hotspots_as_recorded(engine):
    """200 m hexagons, every category, 999 permutations at the default seed."""
    frame = hotspots(engine, _where(engine), "hex", 200, place=PLACE)
    assert len(frame) == 25721 and frame["count"].sum() == 235507
    assert frame["class"].value_counts().to_dict() == {
        "not significant": 24739,
        "hot 99%": 837,
        "hot 95%": 87,
        "hot 90%": 58,
    }
    assert frame["gi_z"].sum() == pytest.approx(146.1489397892792, rel=1e-9)
    assert np.nansum(frame["z_sim"]) == pytest.approx(402.32259397347116, rel=1e-9)
    assert np.nansum(frame["p_sim"]) == pytest.approx(11201.4423828125, rel=1e-6)
    top = frame.loc[frame["count"].idxmax()]
    assert (top["code"], top["count"]) == ("1388:9586", 629)
    assert (top["gi_z"], top["z_sim"]) == (pytest.approx(40.98065686499444), pytest.approx(35.19911180922671))


def test_grid_rate_hotspots_by_permutation_as_recorded(engine):
    frame = hotspots(engine, _where(engine), "grid", value="per_1000", inference="permutation", place=PLACE)
    assert frame["class"].value_counts().to_dict() == {
        "not significant": 990,
        "hot 99%": 17,
        "hot 90%": 7,
        "hot 95%": 5,
    }
    assert frame["gi_z"].sum() == pytest.approx(-9.93300252147128, rel=1e-9)
    assert np.nansum(frame["z_sim"]) == pytest.approx(36.27345461754521, rel=1e-9)
    assert np.nansum(frame["p_sim"]) == pytest.approx(171.90798950195312, rel=1e-6)


def test_weekly_emerging_as_recorded(engine):
    result = emerging_hotspots(engine, _where(engine), "grid", step_days=7, place=PLACE)
    frame = result.frame
    assert result.z.shape == (1019, 52) and frame["count"].sum() == 235507
    assert frame["pattern"].value_counts().to_dict() == {
        "no pattern detected": 970,
        "sporadic cold spot": 27,
        "sporadic hot spot": 19,
        "new hot spot": 3,
    }
    assert (frame["hot_steps"].sum(), frame["cold_steps"].sum()) == (1048, 737)
    assert frame["trend"].value_counts().to_dict() == {"none": 866, "up": 83, "down": 70}
    assert result.z.sum() == pytest.approx(2348.508940361149, rel=1e-9)
    assert frame["trend_z"].sum() == pytest.approx(14.0382247717733, rel=1e-9)


def test_hexagon_emerging_as_recorded(engine):
    result = emerging_hotspots(
        engine, _where(engine, ["security_hazard"]), "hex", 300, step_days=28, confidence=0.95, place=PLACE
    )
    frame = result.frame
    assert result.z.shape == (11552, 13) and frame["count"].sum() == 4658
    assert frame["pattern"].value_counts().to_dict() == {
        "no pattern detected": 11381,
        "sporadic hot spot": 105,
        "persistent hot spot": 33,
        "consecutive hot spot": 10,
        "new hot spot": 9,
        "diminishing hot spot": 7,
        "intensifying hot spot": 4,
        "historical hot spot": 3,
    }
    assert (frame["hot_steps"].sum(), frame["cold_steps"].sum()) == (2574, 0)
    assert result.z.sum() == pytest.approx(402.7520893801993, rel=1e-9)


@pytest.mark.parametrize(
    ("categories", "options", "recorded"),
    [
        (None, {}, (235507, 1555.2870994424331, (348, 263), 3768110.4963203147, 1838.552721154635, 41787)),
        (
            ["dispute"],
            {"cell_m": 100.0, "bandwidth_m": 300.0},
            (4374, 300.0, (793, 582), 437399.99553886574, 222.57369618796102, 261249),
        ),
    ],
)
def test_kernel_density_as_recorded(engine, categories, options, recorded):
    surface = kernel_density(engine, _where(engine, categories), place=PLACE, **options)
    n, bandwidth, shape, total, peak, cells = recorded
    assert (surface.n, surface.array.shape, len(surface.cells)) == (n, shape, cells)
    assert surface.bandwidth_m == pytest.approx(bandwidth, rel=1e-12)
    assert surface.array.sum() == pytest.approx(total, rel=1e-9)
    assert surface.array.max() == pytest.approx(peak, rel=1e-9)
