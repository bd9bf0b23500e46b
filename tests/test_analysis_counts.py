"""Counts, rates, hexagons, the kernel density surface and DBSCAN clusters, each checked against an
independent computation."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from pyproj import Transformer
from sklearn.cluster import DBSCAN
from sqlalchemy import text

from geo_service.analysis import counts, dbscan_clusters, incident_filter, kernel_density, make_span
from geo_service.analysis.density import scott_bandwidth
from geo_service.coordinates.projection import zone_srid
from geo_service.errors import InvalidInput
from geo_service.settings import Settings

from .conftest import ground_truth

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
METRIC = zone_srid(104.1)  # the demo county's own zone, where its analyses are measured (EPSG:4544)
ZONE = PLACE.timezone

TRUTH = ground_truth()["hotspots"]
YEAR = ("2025-11-17", "2026-11-16")
COUNTED = (
    "i.status NOT IN ('rejected', 'merged') AND i.reported_at >= '2025-11-17 00:00+08' "
    "AND i.reported_at < '2026-11-16 00:00+08'"
)


def _where(engine, categories=None, span=YEAR):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(*span, zone=ZONE), categories)


def _sql(engine, sql: str) -> pd.DataFrame:
    with engine.connect() as connection:
        return pd.read_sql(text(sql), connection)


@pytest.mark.parametrize("unit", ["grid", "village", "town"])
def test_counts_and_rates_match_plain_sql(engine, unit):
    frame = counts(engine, _where(engine, ["dispute", "emergency"]), unit, place=PLACE)
    column = {"grid": "grid_code", "village": "village_code", "town": "town_code"}[unit]
    expected = _sql(
        engine,
        f"SELECT {column} AS code, count(*) AS n FROM incidents i WHERE {COUNTED} "
        f"AND i.category IN ('dispute', 'emergency') GROUP BY 1",
    ).set_index("code")["n"]
    got = frame.set_index("code")["count"]
    assert got.sum() == expected.sum() and frame.attrs["unplaced"] == 0
    assert (got.reindex(expected.index) == expected).all()
    assert (got.drop(expected.index) == 0).all()
    np.testing.assert_allclose(frame["per_1000"], frame["count"] * 1000 / frame["population"])
    workers = frame["grid_workers"].replace(0, np.nan)
    np.testing.assert_allclose(frame["per_worker"], frame["count"] / workers)
    assert frame.crs.to_epsg() == 4490


def test_grid_workers_are_the_current_ones(engine):
    towns = counts(engine, _where(engine), "town", place=PLACE)
    assert towns["grid_workers"].sum() == 812  # DESIGN.md: 812 grid workers, all current at the span's end
    villages = counts(engine, _where(engine), "village", place=PLACE)
    assert villages["grid_workers"].sum() == 812
    assert towns["population"].sum() == 1_000_000


def test_hexagon_counts_match_a_spatial_join(engine):
    """Each incident's hexagon, found by arithmetic, against ST_Intersects with PostGIS's own hexagon."""
    frame = counts(engine, _where(engine, ["security_hazard"]), "hex", 200, place=PLACE)
    total = _sql(engine, f"SELECT count(*) AS n FROM incidents i WHERE {COUNTED} AND i.category = 'security_hazard'")
    assert frame["count"].sum() + frame.attrs["unplaced"] == total["n"][0]
    busiest = frame.nlargest(15, "count")
    sample = pd.concat([busiest, frame[frame["count"] > 0].sample(15, random_state=1)])
    srid = METRIC
    for row in sample.itertuples():
        n = _sql(
            engine,
            f"""SELECT count(*) AS n FROM incidents i WHERE {COUNTED} AND i.category = 'security_hazard'
                              AND ST_Intersects(ST_Transform(i.geom, {srid}),
                                  ST_Hexagon(200, {row.i}, {row.j}, ST_SetSRID(ST_MakePoint(0, 0), {srid})))""",
        )["n"][0]
        assert n == row.count, row.code
    assert frame["area_km2"].iloc[0] == pytest.approx(1.5 * math.sqrt(3) * 0.04)
    assert frame.union_all().area > 0 and len(frame) > 20_000


def test_kernel_density_keeps_the_mass_and_states_its_bandwidth(engine):
    where = _where(engine, ["security_hazard"])
    surface = kernel_density(engine, where, cell_m=250, place=PLACE)
    assert surface.rule.startswith("Scott")
    assert surface.array.sum() * 0.25**2 == pytest.approx(surface.n, rel=1e-3)
    # the rule on the raw points (pulled here only to check) gives the same bandwidth within the binning
    points = _sql(
        engine,
        f"SELECT ST_X(ST_Transform(geom, 4544)) AS x, ST_Y(ST_Transform(geom, 4544)) AS y "
        f"FROM incidents i WHERE {COUNTED} AND i.category = 'security_hazard'",
    )
    raw = scott_bandwidth(points["x"].to_numpy(), points["y"].to_numpy(), np.ones(len(points)))
    assert surface.bandwidth_m == pytest.approx(raw, rel=0.01)
    assert raw == pytest.approx(
        math.sqrt((points["x"].var(ddof=0) + points["y"].var(ddof=0)) / 2) * len(points) ** (-1 / 6)
    )


def test_a_narrow_kernel_peaks_at_planted_hotspots(engine):
    surface = kernel_density(engine, _where(engine, ["security_hazard"]), cell_m=100, bandwidth_m=250, place=PLACE)
    assert surface.rule == "given"
    to_metric = Transformer.from_crs(4490, METRIC, always_xy=True)
    planted = [
        to_metric.transform(h["centre_lon"], h["centre_lat"]) for h in TRUTH if h["category"] == "security_hazard"
    ]
    row, col = np.unravel_index(np.argmax(surface.array), surface.array.shape)
    peak = (surface.x0 + (col + 0.5) * 100, surface.y0 + (row + 0.5) * 100)
    assert min(math.dist(peak, p) for p in planted) < 400


def test_dbscan_agrees_with_scikit_learn(engine):
    """PostGIS's DBSCAN against scikit-learn's on the same projected points (core points decide the
    clusters; a border point reachable from two clusters may go either way, so sizes may differ by one)."""
    where = _where(engine, ["security_hazard"])
    clusters = dbscan_clusters(engine, where, eps_m=150, min_points=15, place=PLACE)
    points = _sql(
        engine,
        f"SELECT ST_X(ST_Transform(geom, 4544)) AS x, ST_Y(ST_Transform(geom, 4544)) AS y "
        f"FROM incidents i WHERE {COUNTED} AND i.category = 'security_hazard'",
    )
    labels = DBSCAN(eps=150, min_samples=15).fit_predict(points[["x", "y"]].to_numpy())
    sizes = sorted(np.bincount(labels[labels >= 0]), reverse=True)
    assert len(clusters) == len(sizes) >= 3
    assert all(abs(a - b) <= 2 for a, b in zip(clusters["count"], sizes))
    assert clusters.attrs["noise"] + clusters["count"].sum() == len(points)
    # the three planted security-hazard hotspots are the three clusters
    centres = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy(
            [h["centre_lon"] for h in TRUTH if h["category"] == "security_hazard"],
            [h["centre_lat"] for h in TRUTH if h["category"] == "security_hazard"],
        ),
        crs=4490,
    )
    assert gpd.sjoin(centres, clusters, predicate="within")["cluster"].nunique() == 3


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda e, w: kernel_density(e, w, cell_m=1, place=PLACE), "cell_m"),
        (lambda e, w: kernel_density(e, w, bandwidth_m=float("nan"), place=PLACE), "bandwidth_m"),
        (lambda e, w: dbscan_clusters(e, w, eps_m=0, place=PLACE), "eps_m"),
        (lambda e, w: dbscan_clusters(e, w, min_points=1, place=PLACE), "min_points"),
        (lambda e, w: counts(e, w, "hex", 20_000, place=PLACE), "size_m"),
    ],
)
def test_bad_parameters_name_the_field(engine, call, field):
    with pytest.raises(InvalidInput) as error:
        call(engine, _where(engine, ["dispute"]))
    assert error.value.field == field


def test_unknown_category_and_empty_span(engine):
    with engine.connect() as connection:
        with pytest.raises(InvalidInput) as error:
            incident_filter(connection, make_span(*YEAR, zone=ZONE), ["disputes"])
    assert error.value.field == "category" and "dispute" in error.value.message
    with pytest.raises(InvalidInput) as error:
        make_span("2026-05-01", "2026-04-01", zone=ZONE)
    assert error.value.field == "start"
    with pytest.raises(InvalidInput) as error:
        make_span("yesterday", None, zone=ZONE)
    assert error.value.field == "start"
