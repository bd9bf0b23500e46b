"""The demo county as loaded into PostGIS: counts, hierarchy, topology, assignment, loading.

Topology is checked in the database, in the metric projection (EPSG:4544), to within
``TOLERANCE_M2`` square metres: floating-point noise on shared edges, nothing a map would show.
"""

from __future__ import annotations

import types

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from geo_service.db import migrate
from geo_service.db.engine import get_engine
from geo_service.demo.loader import DemoLoadError, fingerprint, load_demo, table_counts
from geo_service.rules import read_rule_table
from geo_service.settings import Settings

from .conftest import SEED, scalar

TOLERANCE_M2 = 1.0
METRIC = 4544


def rows(engine, sql: str, **params) -> list:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).all()


# -- counts --------------------------------------------------------------------------------------


def test_admin_units_match_the_public_figures(engine):
    levels = dict(rows(engine, "SELECT level, count(*) FROM admin_units GROUP BY level"))
    assert levels["county"] == 1
    assert 28 <= levels["town"] <= 32
    assert levels["village"] == 293
    population = scalar(engine, "SELECT population FROM admin_units WHERE level = 'county'")
    assert 950_000 <= population <= 1_100_000
    assert scalar(engine, "SELECT sum(population) FROM admin_units WHERE level = 'village'") == population


def test_grids_and_grid_workers(engine):
    levels = dict(rows(engine, "SELECT level, count(*) FROM grids GROUP BY level"))
    assert 780 <= levels[1] <= 830
    assert levels.get(2, 0) > 0
    workers = scalar(
        engine,
        """
        SELECT count(DISTINCT officer_id) FROM officer_assignments
         WHERE role = 'grid_worker' AND valid_to IS NULL""",
    )
    assert workers == 812


def test_incidents_have_the_reported_category_mix_and_closure_rate(engine):
    expected = read_rule_table("categories").set_index("code")["annual_share"].to_dict()
    found = dict(rows(engine, "SELECT category, count(*) FROM incidents GROUP BY category"))
    assert found == expected
    closed = scalar(engine, "SELECT avg((status = 'closed')::int) FROM incidents")
    assert float(closed) == pytest.approx(0.9553, abs=0.0001)
    assert scalar(engine, "SELECT count(DISTINCT source) FROM incidents") >= 5


def test_cameras_of_every_kind(engine):
    kinds = dict(rows(engine, "SELECT kind, count(*) FROM cameras GROUP BY kind"))
    assert set(kinds) == {"xueliang", "tianwang", "zongzhi"}
    assert 5_500 <= sum(kinds.values()) <= 6_500
    assert scalar(engine, "SELECT count(*) FROM cameras WHERE status <> 'online'") > 0


def test_rules_are_seeded_as_data(engine):
    assert scalar(engine, "SELECT count(*) FROM responsibility_rules") == len(read_rule_table("responsibility_rules"))
    core = rows(
        engine,
        """
        SELECT role FROM responsibility_rules WHERE tier = 'village' AND core ORDER BY position""",
    )
    assert [r[0] for r in core] == ["village_cadre", "village_party_secretary", "community_police"]
    assert scalar(engine, "SELECT count(*) FROM time_limit_rules") == len(read_rule_table("time_limits"))


# -- hierarchy -----------------------------------------------------------------------------------


def test_codes_nest_in_their_parents(engine):
    bad_units = scalar(
        engine,
        """
        SELECT count(*) FROM admin_units u JOIN admin_units p ON p.id = u.parent_id
         WHERE (u.level = 'town' AND left(u.code, 6) <> left(p.code, 6))
            OR (u.level = 'village' AND left(u.code, 9) <> left(p.code, 9))""",
    )
    assert bad_units == 0
    bad_grids = scalar(
        engine,
        """
        SELECT count(*) FROM grids g JOIN admin_units v ON v.id = g.village_id
         WHERE v.level <> 'village' OR left(g.code, 12) <> v.code""",
    )
    assert bad_grids == 0
    bad_children = scalar(
        engine,
        """
        SELECT count(*) FROM grids c JOIN grids p ON p.id = c.parent_id
         WHERE c.level <> p.level + 1 OR left(c.code, length(p.code)) <> p.code OR c.village_id <> p.village_id""",
    )
    assert bad_children == 0


def test_every_incident_is_assigned_with_a_consistent_hierarchy(engine):
    assert scalar(engine, "SELECT count(*) FROM incidents WHERE grid_id IS NULL") == 0
    inconsistent = scalar(
        engine,
        """
        SELECT count(*) FROM incidents i
          JOIN grids g ON g.id = i.grid_id
          JOIN admin_units v ON v.id = g.village_id
          JOIN admin_units t ON t.id = v.parent_id
          JOIN admin_units c ON c.id = t.parent_id
         WHERE g.code <> i.grid_code OR v.code <> i.village_code
            OR t.code <> i.town_code OR c.code <> i.county_code""",
    )
    assert inconsistent == 0


def test_in_memory_assignment_agrees_with_postgis(engine):
    """The loader assigns in memory; PostGIS, by the same documented rule, must agree."""
    disagreements = rows(
        engine,
        """
        SELECT i.id, i.grid_code, best.code
          FROM (SELECT * FROM incidents ORDER BY id LIMIT 3000) i
          LEFT JOIN LATERAL (
                SELECT g.code FROM grids g
                 WHERE g.version_id = i.boundary_version_id AND ST_Covers(g.geom, i.geom)
                 ORDER BY g.level DESC, g.code LIMIT 1) best ON true
         WHERE best.code IS DISTINCT FROM i.grid_code""",
    )
    assert disagreements == []


# -- topology ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("child", "parent", "join"),
    [
        ("grids", "admin_units", "p.id = c.village_id AND c.level = 1"),
        ("grids", "grids", "p.id = c.parent_id"),
        ("admin_units", "admin_units", "p.id = c.parent_id"),
    ],
    ids=["grids-in-villages", "subgrids-in-grids", "units-in-parents"],
)
def test_children_lie_within_their_parents(engine, child, parent, join):
    worst = scalar(
        engine,
        f"""
        SELECT coalesce(max(ST_Area(ST_Difference(ST_Transform(c.geom, {METRIC}), ST_Transform(p.geom, {METRIC})))), 0)
          FROM {child} c JOIN {parent} p ON {join}""",
    )
    assert worst < TOLERANCE_M2


@pytest.mark.parametrize(
    ("table", "sibling"),
    [
        ("grids", "a.level = b.level AND a.village_id = b.village_id AND a.parent_id IS NOT DISTINCT FROM b.parent_id"),
        ("grids", "a.level = 1 AND b.level = 1"),
        ("admin_units", "a.parent_id = b.parent_id"),
    ],
    ids=["sibling-grids", "all-level-1-grids", "sibling-units"],
)
def test_siblings_do_not_overlap(engine, table, sibling):
    worst = scalar(
        engine,
        f"""
        SELECT coalesce(max(ST_Area(ST_Intersection(ST_Transform(a.geom, {METRIC}), ST_Transform(b.geom, {METRIC})))), 0)
          FROM {table} a JOIN {table} b ON a.id < b.id AND {sibling} AND a.geom && b.geom
         WHERE ST_Intersects(a.geom, b.geom)""",
    )
    assert worst < TOLERANCE_M2


@pytest.mark.parametrize(
    ("parent_level", "children"),
    [
        ("county", "SELECT geom FROM admin_units WHERE level = 'town'"),
        ("county", "SELECT geom FROM admin_units WHERE level = 'village'"),
        ("county", "SELECT geom FROM grids WHERE level = 1"),
    ],
    ids=["towns", "villages", "level-1-grids"],
)
def test_children_cover_the_county_without_gaps(engine, parent_level, children):
    gap = scalar(
        engine,
        f"""
        SELECT ST_Area(ST_Difference(ST_Transform(p.geom, {METRIC}),
                                     ST_Transform((SELECT ST_Union(geom) FROM ({children}) c), {METRIC})))
          FROM admin_units p WHERE p.level = '{parent_level}'""",
    )
    assert gap < TOLERANCE_M2


def test_geometries_are_valid_and_in_cgcs2000(engine):
    for table in ("admin_units", "grids"):
        assert scalar(engine, f"SELECT count(*) FROM {table} WHERE NOT ST_IsValid(geom)") == 0
        assert scalar(engine, f"SELECT count(DISTINCT ST_SRID(geom)) FROM {table}") == 1
        assert scalar(engine, f"SELECT min(ST_SRID(geom)) FROM {table}") == 4490


# -- the outline's datum ---------------------------------------------------------------------------


def test_the_county_outline_was_converted_from_gcj02(engine):
    """The stored outline is the source's GCJ-02 outline converted by an independent library.

    The demo's county is the union of its grids, so its vertices are not the source's one for one:
    the two outlines are compared by Hausdorff distance, in metres, in the metric projection.
    """
    import json

    import prcoords
    from pyproj import Geod, Transformer

    from geo_service.settings import PROJECT_ROOT

    source = shapely.geometry.shape(json.loads((PROJECT_ROOT / "boundaries/sources/511421.geojson").read_text()))
    expected = shapely.transform(
        source, lambda xy: np.array([prcoords.gcj_wgs_bored((lat, lon))[::-1] for lon, lat in xy])
    )
    stored = shapely.from_wkb(bytes(scalar(engine, "SELECT ST_AsBinary(geom) FROM admin_units WHERE level = 'county'")))
    to_metric = Transformer.from_crs(4490, METRIC, always_xy=True).transform
    metric = lambda g: shapely.transform(g.boundary, to_metric, interleaved=False)
    assert shapely.hausdorff_distance(metric(stored), metric(expected)) < 0.5
    # And the shift itself is the few hundred metres GCJ-02 puts in around Renshou.
    src, dst = shapely.get_coordinates(source), shapely.get_coordinates(expected)
    _, _, shift_m = Geod(ellps="WGS84").inv(src[:, 0], src[:, 1], dst[:, 0], dst[:, 1])
    assert 200 < shift_m.min() and shift_m.max() < 800


def test_incident_locations_round_trip_from_their_input_datum(engine):
    from geo_service.coordinates import datum

    sample = rows(
        engine,
        """
        SELECT DISTINCT ON (input_datum) input_datum, input_lon, input_lat, ST_X(geom), ST_Y(geom)
          FROM incidents ORDER BY input_datum, id""",
    )
    assert {r[0] for r in sample} >= {"wgs84", "gcj02", "bd09"}
    for name, lon, lat, x, y in sample:
        back = datum.convert(x, y, "cgcs2000", name)
        assert abs(float(back[0]) - lon) < 1e-7 and abs(float(back[1]) - lat) < 1e-7


# -- loading -------------------------------------------------------------------------------------


def test_loading_again_is_a_no_op(engine):
    before = table_counts(engine)
    result = load_demo(engine, SEED, Settings())
    assert result.loaded is False
    assert result.fingerprint == fingerprint(SEED)
    assert table_counts(engine) == before


def test_the_demo_is_not_loaded_over_other_data(scratch_url):
    migrate.upgrade(scratch_url)
    engine = get_engine(scratch_url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO officers (code, name) VALUES ('X1', '张三')"))
    with pytest.raises(DemoLoadError, match="not the demo"):
        load_demo(engine, SEED, Settings())
    assert scalar(engine, "SELECT name FROM officers") == "张三"


def test_the_demo_is_not_loaded_into_an_old_schema(scratch_url):
    with pytest.raises(DemoLoadError, match="geo-service db migrate"):
        load_demo(get_engine(scratch_url), SEED, Settings())


def _broken_demo() -> types.SimpleNamespace:
    """A one-village county whose only grid has a malformed code: the load must fail whole."""
    square = shapely.MultiPolygon([shapely.box(104.0, 30.0, 104.01, 30.01)])

    def units(**columns):
        return gpd.GeoDataFrame(pd.DataFrame([columns]), geometry=[square], crs=4490)

    empty = pd.DataFrame
    return types.SimpleNamespace(
        county=units(code="511421000000", name="仁寿县", kind="county", parent_code=None, population=1, households=1),
        towns=units(
            code="511421100000", name="某镇", kind="town", parent_code="511421000000", population=1, households=1
        ),
        villages=units(
            code="511421100200",
            name="某村",
            kind="village",
            urban=False,
            parent_code="511421100000",
            population=1,
            households=1,
        ),
        grids=units(
            code="51142110020000X",
            name="坏网格",
            level=1,
            parent_code=None,
            village_code="511421100200",
            kind="rural",
            population=1,
            households=1,
        ),
        officers=empty(columns=["code", "name", "phone", "gender"]),
        assignments=empty(columns=["officer_code", "role", "unit_code", "valid_from", "valid_to"]),
        cameras=gpd.GeoDataFrame(
            columns=[
                "device_code",
                "name",
                "kind",
                "heading_deg",
                "fov_deg",
                "range_m",
                "status",
                "installed_on",
                "geometry",
            ],
            geometry="geometry",
            crs=4490,
        ),
        incidents=gpd.GeoDataFrame(
            columns=["external_id", "input_datum", "input_lon", "input_lat", "satisfaction", "geometry"],
            geometry="geometry",
            crs=4490,
        ),
        events=empty(columns=["external_id", "at", "actor", "action", "from_status", "to_status", "note"]),
    )


def test_a_failing_load_leaves_the_database_as_it_was(demo_copy_url, monkeypatch):
    import geo_service.demo.generator

    engine = get_engine(demo_copy_url)
    before = table_counts(engine)
    monkeypatch.setattr(geo_service.demo.generator, "generate", lambda seed, progress=None: _broken_demo())
    with pytest.raises(Exception, match="code_format"):
        load_demo(engine, SEED, Settings(), force=True)
    assert table_counts(engine) == before
    assert scalar(engine, "SELECT value FROM service_meta WHERE key = 'demo_fingerprint'") == fingerprint(SEED)


def test_the_demo_cases_still_being_handled_have_their_people_bound(engine):
    unbound = scalar(
        engine,
        """
        SELECT count(*) FROM incidents i
         WHERE i.status IN ('dispatched', 'accepted', 'in_progress')
           AND NOT EXISTS (SELECT 1 FROM incident_officers b WHERE b.incident_id = i.id)""",
    )
    assert unbound == 0
    assert scalar(engine, "SELECT count(DISTINCT incident_id) FROM incident_officers") == scalar(
        engine, "SELECT count(*) FROM incidents WHERE status IN ('dispatched', 'accepted', 'in_progress')"
    )
    vacancies = scalar(engine, "SELECT count(*) FROM incident_officers WHERE officer_id IS NULL")
    assert vacancies > 0  # the deliberate vacancies show up as such
