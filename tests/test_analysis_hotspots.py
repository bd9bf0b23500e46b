"""Gi* hot spots: agree with esda called directly, match published figures on PySAL's Columbus
data, and find the hotspots planted in the demo county (precision and recall printed)."""

from __future__ import annotations

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
from libpysal.graph import Graph
from scipy import stats
from scipy.sparse.csgraph import connected_components
from sqlalchemy import text

from geo_service.analysis import hotspots, incident_filter, make_span
from geo_service.analysis.hotspots import gi_star
from geo_service.analysis.stats import confidence_classes, fdr
from geo_service.analysis.weights import unit_weights, with_self
from geo_service.errors import InvalidInput
from geo_service.settings import Settings

from .conftest import ground_truth

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
ZONE = PLACE.timezone

YEAR = ("2025-11-17", "2026-11-16")
TRUTH = ground_truth()["hotspots"]


def _where(engine, categories=None, span=YEAR):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(*span, zone=ZONE), categories)


# -- the statistic against esda's own tests and published figures ------------------------------------------


def test_gi_star_reproduces_esda_test_suite_value():
    """esda/tests/test_getisord.py, TestGLocal.test_star_binary: six points, distance band 15,
    binary weights, Gi*: Zs[0] = -1.39727626."""
    points = np.array([(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)])
    y = np.array([2, 3, 3.2, 5, 8, 7])
    graph = Graph.build_distance_band(points, threshold=15, binary=True)
    result = gi_star(y, with_self(graph), permutations=0)
    assert result["gi_z"][0] == pytest.approx(-1.39727626, abs=1e-7)


@pytest.fixture(scope="module")
def columbus() -> gpd.GeoDataFrame:
    return gpd.read_file(libpysal.examples.get_path("columbus.shp"))


def test_columbus_moran_matches_the_published_figure(columbus):
    """Anselin's Columbus crime data (PySAL's bundled copy): Moran's I of CRIME with row-standardised
    queen contiguity is 0.500 (GeoDa workbook, "Global Spatial Autocorrelation"; Anselin 1988)."""
    graph, described = unit_weights(columbus, "grid")
    assert "queen" in described
    moran = esda.Moran(columbus["CRIME"], graph.transform("r"))
    assert moran.I == pytest.approx(0.500189, abs=1e-5)
    assert graph.cardinalities.mean() == pytest.approx(236 / 49)  # 236 queen links among 49 tracts


def test_columbus_gi_star_agrees_with_esda_on_its_own_weights(columbus):
    """Our weights and wrapper against esda's classic W path (libpysal.weights.Queen) on CRIME."""
    graph, _ = unit_weights(columbus, "grid")
    ours = gi_star(columbus["CRIME"].to_numpy(), with_self(graph), permutations=999, seed=7)
    direct = esda.G_Local(
        columbus["CRIME"].to_numpy(),
        libpysal.weights.Queen.from_dataframe(columbus, use_index=False),
        transform="B",
        star=True,
        permutations=999,
        seed=7,
    )
    np.testing.assert_allclose(ours["gi_z"], direct.Zs, rtol=1e-10)
    np.testing.assert_allclose(ours["p_sim"], np.minimum(1, 2 * direct.p_sim))
    np.testing.assert_allclose(ours["p_value"], 2 * stats.norm.sf(np.abs(direct.Zs)))
    # the high-crime centre of Columbus is the hot spot, the affluent east and north cold
    assert ours["class"].str.startswith("hot").sum() >= 5 and ours["class"].str.startswith("cold").sum() >= 3
    assert columbus["CRIME"][ours["class"].str.startswith("hot").to_numpy()].min() > columbus["CRIME"].median()


def test_classes_follow_adjusted_p_values():
    z = np.array([3.0, 2.2, 1.8, -2.7, 0.1, np.nan])
    p = np.array([0.005, 0.03, 0.08, 0.008, 0.9, np.nan])
    assert list(confidence_classes(z, p, 0.90)) == [
        "hot 99%",
        "hot 95%",
        "hot 90%",
        "cold 99%",
        "not significant",
        "not significant",
    ]
    assert list(confidence_classes(z, p, 0.95)) == [
        "hot 99%",
        "hot 95%",
        "not significant",
        "cold 99%",
        "not significant",
        "not significant",
    ]
    # BH by hand: sorted 0.01, 0.03, 0.04, 0.5 times 4/rank = 0.04, 0.06, 0.0533, 0.5, then running minimum from the top
    np.testing.assert_allclose(fdr(np.array([0.01, 0.04, 0.03, 0.5])), [0.04, 0.16 / 3, 0.16 / 3, 0.5])


# -- on the demo county ------------------------------------------------------------------------------------


def test_demo_hotspots_agree_with_esda_called_directly(engine):
    """Counts by plain SQL, queen weights by libpysal's W, esda's G_Local, BH by scipy: the same answer."""
    where = _where(engine, ["security_hazard"])
    ours = hotspots(engine, where, "grid", permutations=0, place=PLACE)
    with engine.connect() as connection:
        grids = gpd.read_postgis(
            text("""
            SELECT g.code, g.geom, (SELECT count(*) FROM incidents i WHERE i.grid_code = g.code
                    AND i.category = 'security_hazard' AND i.status NOT IN ('rejected', 'merged')
                    AND i.reported_at >= '2025-11-17 00:00+08' AND i.reported_at < '2026-11-16 00:00+08') AS n
              FROM grids g WHERE NOT EXISTS (SELECT 1 FROM grids c WHERE c.parent_id = g.id) ORDER BY g.code"""),
            connection,
            geom_col="geom",
        )
    assert list(grids["code"]) == list(ours["code"])
    assert list(grids["n"]) == list(ours["count"])
    w = libpysal.weights.Queen.from_dataframe(grids, use_index=False, silence_warnings=True)
    direct = esda.G_Local(grids["n"].to_numpy(float), w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(ours["gi_z"], direct.Zs, rtol=1e-9)
    p = 2 * stats.norm.sf(np.abs(direct.Zs))
    np.testing.assert_allclose(ours["p_fdr"], stats.false_discovery_control(p, method="bh"), rtol=1e-9)
    assert ours.attrs["weights"].startswith("queen contiguity")


def _planted_masks(codes: np.ndarray, category: str) -> list[tuple[dict, np.ndarray]]:
    """Each planted hotspot of ``category`` and the finest grids of its planted grids."""
    return [
        (h, np.array([any(c.startswith(p) for p in h["grid_codes"]) for c in codes]))
        for h in TRUTH
        if h["category"] == category
    ]


def _score(engine, value: str, inference: str) -> dict:
    totals = dict(hot=0, true_hot=0, planted=0, hotspots=0, hotspots_found=0, clusters=0, true_clusters=0)
    for category in sorted({h["category"] for h in TRUTH}):
        frame = hotspots(
            engine, _where(engine, [category]), "grid", value=value, inference=inference, confidence=0.95, place=PLACE
        )
        hot = frame["class"].str.startswith("hot").to_numpy()
        planted_of = _planted_masks(frame["code"].to_numpy(), category)
        planted = np.logical_or.reduce([m for _, m in planted_of])
        graph, _ = unit_weights(frame, "grid")
        n_clusters, label = connected_components(graph.sparse.tocsr()[hot][:, hot], directed=False)
        totals["hot"] += hot.sum()
        totals["true_hot"] += (hot & planted).sum()
        totals["planted"] += planted.sum()
        totals["hotspots"] += len(planted_of)
        totals["hotspots_found"] += sum(bool((hot & m).any()) for _, m in planted_of)
        totals["clusters"] += n_clusters
        totals["true_clusters"] += sum(bool(planted[hot][label == k].any()) for k in range(n_clusters))
    return {
        "grid precision": totals["true_hot"] / totals["hot"],
        "grid recall": totals["true_hot"] / totals["planted"],
        "hotspot recall": totals["hotspots_found"] / totals["hotspots"],
        "cluster precision": totals["true_clusters"] / totals["clusters"],
        **totals,
    }


@pytest.mark.parametrize(
    ("value", "inference", "floors"),
    [
        # hotspot recall, cluster precision, grid recall, grid precision
        ("count", "analytic", (0.9, 0.6, 0.6, 0.2)),
        ("per_1000", "analytic", (1.0, 0.7, 0.8, 0.4)),
        ("count", "permutation", (0.8, 0.45, 0.5, 0.2)),
    ],
)
def test_planted_hotspots_are_found(engine, value, inference, floors):
    """Each category's year at grid level, hot at 95% after FDR, against the planted hotspots.

    A planted hotspot is found when one of its grids is hot; a cluster (hot grids that touch) is
    true when it holds a planted grid. Gi* is a neighbourhood statistic, so grids bordering a
    hotspot are often hot too: grid precision is reported, not held to a high floor.
    """
    score = _score(engine, value, inference)
    print(
        f"\nplanted hotspots, {value}, {inference}: "
        + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in score.items())
    )
    assert score["hotspot recall"] >= floors[0]
    assert score["cluster precision"] >= floors[1]
    assert score["grid recall"] >= floors[2]
    assert score["grid precision"] >= floors[3]


def test_shuffled_counts_miss_the_planted_hotspots(engine):
    """The same statistic on counts shuffled across grids: hot grids follow the shuffled values, and
    the planted places are (almost) never among them, so the recall above is not had by chance."""
    frame = hotspots(engine, _where(engine, ["security_hazard"]), "grid", confidence=0.95, place=PLACE)
    graph, _ = unit_weights(frame, "grid")
    found = []
    for seed in range(5):
        shuffled = np.random.default_rng(seed).permutation(frame["count"].to_numpy())
        hot = gi_star(shuffled.astype(float), with_self(graph), permutations=0, confidence=0.95)["class"]
        hot = hot.str.startswith("hot").to_numpy()
        found += [bool((hot & m).any()) for _, m in _planted_masks(frame["code"].to_numpy(), "security_hazard")]
    assert sum(found) / len(found) <= 0.34


def test_hexagon_hotspots_hold_the_planted_centres(engine):
    """At 200 m hexagons the hexagon holding each planted security-hazard centre is hot at 99%."""
    frame = hotspots(
        engine, _where(engine, ["security_hazard"]), "hex", 200, confidence=0.95, permutations=0, place=PLACE
    )
    assert frame.attrs["weights"].startswith("hexagons sharing a side")
    centres = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            [h["centre_lon"] for h in TRUTH if h["category"] == "security_hazard"],
            [h["centre_lat"] for h in TRUTH if h["category"] == "security_hazard"],
        ),
        crs=4490,
    )
    holding = gpd.sjoin(centres, frame, predicate="within")
    assert len(holding) == len(centres)
    assert (holding["class"] == "hot 99%").all(), holding[["code", "count", "gi_z", "class"]]


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"unit": "hex", "size_m": 200, "value": "per_1000"}, "value"),
        ({"value": "rate"}, "value"),
        ({"confidence": 0.8}, "confidence"),
        ({"permutations": -1}, "permutations"),
        ({"inference": "permutation", "permutations": 10}, "permutations"),
        ({"unit": "hex"}, "size_m"),
        ({"unit": "hex", "size_m": 10}, "size_m"),
        ({"unit": "province"}, "unit"),
    ],
)
def test_bad_options_name_the_field(engine, options, field):
    where = _where(engine, ["dispute"])
    with pytest.raises(InvalidInput) as error:
        hotspots(engine, where, **options, place=PLACE)
    assert error.value.field == field


def test_constant_counts_have_no_hotspot(engine):
    """No incident at all in the span: every unit 'not significant', no division by zero."""
    frame = hotspots(engine, _where(engine, ["instability"], ("2030-01-01", "2030-02-01")), "town", place=PLACE)
    assert (frame["count"] == 0).all()
    assert (frame["class"] == "not significant").all()
    assert pd.isna(frame["gi_z"]).all()
