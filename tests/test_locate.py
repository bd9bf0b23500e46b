"""`locate` and `GET /locate` on the tiny county, where every answer is known in advance."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import shapely

from geo_service.coordinates import datum
from geo_service.db.engine import each_statement_alone
from geo_service.errors import InvalidInput, NotFound, OutsideCoverage
from geo_service.lookup import locate as lookup
from geo_service.lookup.grid_index import GridIndex
from geo_service.settings import Settings

from . import tiny_county as tiny
from .tiny_county import BJ, EAST, SPOT, WEST

SETTINGS = Settings()  # the county's zone, coverage margin and camera radius: the defaults


def locate(*args, **options):
    """The library's lookup, given this suite's settings."""
    return lookup.locate(*args, settings=SETTINGS, **options)


V1_TIME = datetime(2026, 1, 15, 10, 0, tzinfo=BJ)
V2_TIME = datetime(2026, 7, 15, 10, 0, tzinfo=BJ)


# -- which grid: interior, edges, vertices, holes, parts ---------------------------------------------


@pytest.mark.parametrize(
    ("point", "expected", "why"),
    [
        ((104.01, 30.04), WEST + "001001", "interior of a level-2 grid: the finest level wins"),
        ((104.07, 30.04), WEST + "002", "interior of a level-1 grid"),
        ((104.05, 30.02), WEST + "001002", "edge between a level-2 grid and a level-1 grid: finest level"),
        ((104.05, 29.97), WEST + "003", "edge between two level-1 grids: smallest code"),
        ((104.05, 30.00), WEST + "001002", "vertex shared by four grids and a sub-grid: finest level"),
        ((104.05, 29.95), WEST + "003", "vertex on the county edge shared by two grids: smallest code"),
        ((104.10, 30.02), WEST + "002", "edge between villages: smallest code"),
        ((104.075, 29.975), WEST + "005", "inside the hole of grid 004: the island grid"),
        ((104.07, 29.975), WEST + "004", "on the hole's ring, shared by 004 and 005: smallest code"),
        ((104.18, 29.96), EAST + "001", "second part of a multi-part grid"),
        ((104.12, 30.00), EAST + "001", "first part of a multi-part grid"),
        ((104.00, 30.05), WEST + "001001", "the county's corner"),
    ],
)
def test_the_grid_of_a_point(tiny_engine, point, expected, why):
    found = locate(tiny_engine, *point, at=V1_TIME).to_dict()
    assert found["inside"] is True, why
    assert found["grid"]["code"] == expected, why
    assert found["village"]["code"] == expected[:12]
    assert found["town"]["code"] == tiny.TOWN and found["county"]["code"] == tiny.COUNTY


def _exact_covers(polygon, x: float, y: float) -> bool:
    """An independent point-in-polygon test: even-odd crossing with exact on-boundary detection.

    Coordinates are compared as exact binary fractions, so a point on an edge is on it, not near it.
    """
    from fractions import Fraction as F

    px, py = F(x), F(y)
    parts = polygon.geoms if polygon.geom_type == "MultiPolygon" else [polygon]
    for part in parts:
        inside = False
        for ring in [part.exterior, *part.interiors]:
            coords = [(F(a), F(b)) for a, b in ring.coords]
            for (ax, ay), (bx, by) in zip(coords, coords[1:]):
                cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
                if cross == 0 and min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by):
                    return True  # on the boundary: covered
                if (ay > py) != (by > py) and px < ax + (py - ay) * (bx - ax) / (by - ay):
                    inside = not inside
        if inside:
            return True
    return False


def test_database_memory_and_an_independent_test_agree_on_every_point(tiny_engine):
    """Interior points, every vertex and points on edges: all three assign alike, by the rule."""
    grids = {
        code: shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for code, (_, g) in tiny.V1_GRIDS.items()
    }
    levels = {code: level for code, (level, _) in tiny.V1_GRIDS.items()}
    rng = np.random.default_rng(7)
    points = [tuple(p) for p in rng.uniform([104.0, 29.95], [104.2, 30.05], size=(150, 2))]
    for g in grids.values():
        points += [tuple(c) for c in shapely.get_coordinates(g)]
    points += [(104.05, y) for y in np.linspace(29.95, 30.05, 21)] + [(x, 30.0) for x in np.linspace(104.0, 104.2, 21)]
    index = GridIndex(list(grids), [levels[c] for c in grids], list(grids.values()))
    memory = index.assign(np.array([p[0] for p in points]), np.array([p[1] for p in points]))
    for (x, y), found in zip(points, memory):
        covering = [c for c in grids if _exact_covers(grids[c], x, y)]
        expected = min(covering, key=lambda c: (-levels[c], c)) if covering else None
        assert (index.codes[found] if found >= 0 else None) == expected, (x, y)
        database = locate(tiny_engine, x, y, at=V1_TIME).to_dict()["grid"]
        assert (database["code"] if database else None) == expected, (x, y)


# -- outside the grids, outside the coverage ---------------------------------------------------------


def test_a_point_outside_every_grid_gets_the_nearest_grid_and_its_distance(tiny_engine):
    found = locate(tiny_engine, 104.25, 30.02, at=V1_TIME).to_dict()
    assert found["inside"] is False and found["grid"] is None
    assert found["nearest_grid"]["code"] == EAST + "002"
    # 0.05 degrees of longitude at 30.02 N is 4.82 km on the spheroid.
    assert found["nearest_grid"]["distance_m"] == pytest.approx(4821, abs=5)
    assert found["village"]["code"] == EAST
    assert found["officers"], "the dispatcher still knows whom to call"


@pytest.mark.parametrize(
    ("lon", "lat", "crs", "error", "words"),
    [
        (116.40, 39.90, "cgcs2000", OutsideCoverage, "outside the area this deployment covers"),
        (30.02, 104.04, "cgcs2000", InvalidInput, "swapped"),
        (float("nan"), 30.0, "cgcs2000", InvalidInput, "finite"),
        (104.1, 95.0, "cgcs2000", InvalidInput, "outside -90 to 90"),
        (190.0, 30.0, "cgcs2000", InvalidInput, "outside -180 to 180"),
        (104.1, 30.0, "mars-2", InvalidInput, "gcj02"),
    ],
)
def test_impossible_points_are_refused_with_the_reason(tiny_engine, lon, lat, crs, error, words):
    with pytest.raises(error, match=words):
        locate(tiny_engine, lon, lat, crs, at=V1_TIME)


def test_swapped_coordinates_are_named_where_both_orders_are_valid_numbers():
    """In western China both orders can be valid: Kashgar (75.99 E, 39.47 N) given the wrong way round."""
    from geo_service.coordinates.coverage import Coverage, require_covered

    kashgar = Coverage(shapely.box(75.5, 39.0, 76.5, 40.0), "喀什市", 0)
    with pytest.raises(OutsideCoverage, match="look swapped: lon=75.99, lat=39.47 is inside"):
        require_covered(kashgar, 39.47, 75.99, "cgcs2000", (39.47, 75.99))
    with pytest.raises(OutsideCoverage) as refused:
        require_covered(kashgar, 80.0, 39.47, "cgcs2000", (80.0, 39.47))
    assert "swapped" not in str(refused.value)


# -- datums ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["wgs84", "gcj02", "bd09", "cgcs2000"])
def test_a_point_given_in_any_datum_lands_in_the_same_grid(tiny_engine, crs):
    lon, lat = datum.convert(104.04, 30.02, "cgcs2000", crs)
    found = locate(tiny_engine, float(lon), float(lat), crs, at=V1_TIME).to_dict()
    assert found["grid"]["code"] == WEST + "001002"
    assert found["point"]["lon"] == pytest.approx(104.04, abs=1e-8)
    assert found["point"]["lat"] == pytest.approx(30.02, abs=1e-8)


def test_reading_gcj02_as_cgcs2000_lands_hundreds_of_metres_off(tiny_engine):
    lon, lat = datum.convert(104.049, 30.02, "cgcs2000", "gcj02")
    right = locate(tiny_engine, float(lon), float(lat), "gcj02", at=V1_TIME).to_dict()
    wrong = locate(tiny_engine, float(lon), float(lat), "cgcs2000", at=V1_TIME).to_dict()
    assert right["grid"]["code"] == WEST + "001002"
    assert wrong["grid"]["code"] != right["grid"]["code"]


# -- time travel ---------------------------------------------------------------------------------------


def test_at_selects_the_boundaries_then_in_force(tiny_engine):
    before = locate(tiny_engine, 104.075, 29.975, at=V1_TIME).to_dict()
    after = locate(tiny_engine, 104.075, 29.975, at=V2_TIME).to_dict()
    assert before["boundary_version"]["name"] == "v1" and before["grid"]["code"] == WEST + "005"
    assert after["boundary_version"]["name"] == "v2" and after["grid"]["code"] == WEST + "002"
    assert before["boundary_version"]["effective_to"] == tiny.V2_FROM.isoformat()


def test_a_naive_time_is_beijing_time(tiny_engine):
    # 2026-06-01 00:30 in Beijing is still 2026-05-31 in UTC: the new version is already in force.
    found = locate(tiny_engine, 104.075, 29.975, at=datetime(2026, 6, 1, 0, 30)).to_dict()
    assert found["boundary_version"]["name"] == "v2"


def test_before_any_boundaries_there_is_nothing_to_find(tiny_engine):
    with pytest.raises(NotFound, match="no boundary version"):
        locate(tiny_engine, 104.075, 29.975, at=datetime(2020, 1, 1, tzinfo=BJ))


def test_at_selects_the_officers_then_responsible(tiny_engine):
    def worker(at):
        found = locate(tiny_engine, 104.07, 30.04, at=at).to_dict()
        return [o["name"] for o in found["officers"] if o["role"] == "grid_worker"]

    assert worker(datetime(2026, 3, 31, 23, 0, tzinfo=BJ)) == ["网格员乙"]
    assert worker(datetime(2026, 4, 1, 8, 0, tzinfo=BJ)) == ["网格员丙"]


# -- officers and vacancies ----------------------------------------------------------------------------


def test_officers_follow_the_rules_in_order_with_vacancies_shown(tiny_engine):
    found = locate(tiny_engine, 104.12, 30.00, at=V1_TIME).to_dict()  # east village
    roles = [(o["position"], o["role"], o["vacant"]) for o in found["officers"]]
    assert roles[:5] == [
        (1, "village_cadre", False),
        (2, "village_party_secretary", True),  # nobody holds it in the east village
        (3, "community_police", False),
        (4, "grid_worker", False),
        (5, "grid_leader", True),
    ]
    assert roles[5] == (6, "mediation_committee", True)  # blue: the mediation committee
    assert [o["core"] for o in found["officers"][:3]] == [True, True, True]
    cadre = found["officers"][0]
    assert (cadre["name"], cadre["phone"], cadre["unit_code"]) == ("包村干部", "13900000021", EAST)


def test_a_sub_grid_is_answered_for_by_its_parent_grids_worker(tiny_engine):
    found = locate(tiny_engine, 104.01, 30.04, at=V1_TIME).to_dict()
    worker = next(o for o in found["officers"] if o["role"] == "grid_worker")
    assert (worker["name"], worker["unit_code"]) == ("网格员甲", WEST + "001")


def test_red_cases_call_more_senior_people_and_escalate_through_town_and_county(tiny_engine):
    found = locate(tiny_engine, 104.07, 30.04, at=V1_TIME, risk_colour="red").to_dict()
    roles = [o["role"] for o in found["officers"]]
    assert roles[-2:] == ["town_party_secretary", "county_leader"]
    leader = found["officers"][-1]
    assert (leader["name"], leader["unit_code"]) == ("县领导", tiny.TOWN)
    assert [step["tier"] for step in found["escalation"]] == ["town", "county"]
    county = found["escalation"][-1]["officers"]
    assert county[0]["role"] == "county_command_centre" and county[0]["vacant"] is True


# -- cameras -------------------------------------------------------------------------------------------


def test_cameras_that_see_the_spot_come_first_nearest_first(tiny_engine):
    cameras = locate(tiny_engine, *SPOT, at=V1_TIME).to_dict()["cameras"]
    seen = [(c["device_code"][-1], c["sees"], c["status"]) for c in cameras]
    assert seen == [
        ("2", True, "offline"),  # 30 m, a dome: sees, but offline
        ("1", True, "online"),  # 50 m, facing the spot
        ("4", False, "online"),  # 40 m, facing away
        ("3", False, "online"),  # 150 m, facing the spot but its range is 100 m
    ]
    assert cameras[0]["viewable_now"] is False and cameras[1]["viewable_now"] is True
    assert cameras[1]["distance_m"] == pytest.approx(50, abs=0.1)
    assert cameras[1]["bearing_from_camera_deg"] == pytest.approx(90, abs=0.1)


def test_the_sector_edge_is_inclusive_and_just_outside_is_not(tiny_engine):
    camera = tiny.CAMERAS[0]  # at 50 m west of SPOT, heading 90, fov 60: edges at 60 and 120 degrees
    inside = tiny.offset(camera[3], 61, 60)
    outside = tiny.offset(camera[3], 59, 60)
    see = lambda p: next(
        c["sees"] for c in locate(tiny_engine, *p, at=V1_TIME).to_dict()["cameras"] if c["device_code"] == camera[0]
    )
    assert see(inside) is True
    assert see(outside) is False


# -- the HTTP face ----------------------------------------------------------------------------------


def test_get_locate_answers_the_lookup(tiny_client):
    response = tiny_client.get("/locate", params={"lon": 104.07, "lat": 30.04, "at": "2026-01-15T10:00:00+08:00"})
    assert response.status_code == 200
    body = response.json()
    assert body["grid"] == {"code": WEST + "002", "name": "v1网格201002", "level": 1, "kind": "rural"}
    assert body["village"]["code"] == WEST and body["boundary_version"]["name"] == "v1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "east", "lat": 30.0}, "lon"),
        ({"lon": 104.1, "lat": 30.0, "crs": "itrf"}, "crs"),
        ({"lon": 104.1, "lat": 30.0, "risk_colour": "green"}, "risk_colour"),
        ({"lon": "nan", "lat": 30.0}, "lon"),
        ({"lon": 30.02, "lat": 104.04}, "lat"),
        ({"lon": 116.4, "lat": 39.9}, "lon,lat"),
    ],
)
def test_get_locate_refuses_bad_input_with_a_422_naming_the_field(tiny_client, params, field):
    response = tiny_client.get("/locate", params=params)
    assert response.status_code == 422
    body = response.json()
    named = body.get("field") or ",".join(str(e["loc"][-1]) for e in body.get("detail", []))
    assert named == field


def test_the_command_line_locates_a_point(tiny_url):
    import json
    import os
    import subprocess
    import sys

    env = {**{k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"}, "DATABASE_URL": tiny_url}
    base = [sys.executable, "-m", "geo_service.cli.main", "locate"]
    found = subprocess.run(
        base + ["104.12", "30.0", "--at", "2026-01-15T10:00:00", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)["grid"]["code"] == EAST + "001"
    summary = subprocess.run(
        base + ["104.12", "30.0", "--at", "2026-01-15T10:00:00"], capture_output=True, text=True, env=env, timeout=60
    )
    assert summary.returncode == 0, summary.stderr
    assert "网格 511421100202001（第 1 级）（grid 511421100202001 (level 1)）" in summary.stdout
    assert "应联系的人员" in summary.stdout and "空缺" in summary.stdout
    refused = subprocess.run(base + ["30.0", "104.12"], capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 2 and "swapped" in refused.stderr


def test_two_rules_at_one_position_each_name_their_own_role(tiny_url, tiny_engine):
    """Rules are data: an administrator may put a colour's rule at a position another rule uses."""
    from sqlalchemy import text

    with tiny_engine.begin() as connection:
        connection.execute(
            text("""
            INSERT INTO responsibility_rules (tier, risk_colour, position, role, core)
            VALUES ('village', 'blue', 1, 'grid_worker', false)""")
        )
    try:
        found = locate(tiny_engine, 104.07, 30.04, at=V1_TIME).to_dict()["officers"]
        first = [(o["role"], o["name"]) for o in found if o["position"] == 1]
        assert first == [("grid_worker", "网格员乙"), ("village_cadre", "包村干部")]
    finally:
        with tiny_engine.begin() as connection:
            connection.execute(text("DELETE FROM responsibility_rules WHERE risk_colour = 'blue' AND position = 1"))


def test_a_lookups_connection_goes_back_to_the_pool_transactional(engine):
    """A lookup's statements commit alone; the pooled connection it used must not stay so, or
    the next request's transaction on it would not roll back."""
    with each_statement_alone(engine) as connection:
        driver = connection.connection.dbapi_connection
        assert driver.autocommit
        connection.exec_driver_sql("SELECT 1")
    assert not driver.autocommit
    with pytest.raises(ValueError, match="mid-lookup"), each_statement_alone(engine) as connection:
        driver = connection.connection.dbapi_connection
        raise ValueError("mid-lookup")
    assert not driver.autocommit
    # A connection lost during the lookup: the lookup's own error comes through, not the driver's.
    with pytest.raises(ValueError, match="lost"), each_statement_alone(engine) as connection:
        connection.connection.dbapi_connection.close()
        raise ValueError("lost")


def test_a_lookup_answered_from_memory_is_the_one_the_database_gives_and_takes_no_connection(tiny_client):
    """The second lookup of a place is answered on the event loop from what the worker keeps (no
    connection from the pool); it must be the answer the first, read from the database, gave. A
    point between grids (its nearest grid is the database's to find) and one asked at another
    time still read the database, and answer the same each time."""
    from sqlalchemy import event

    engine = tiny_client.app.state.engine
    taken: list[int] = []
    listener = lambda *args: taken.append(1)  # noqa: E731
    kept = [SPOT, (104.12, 30.0), (104.17, 30.02), tiny.offset(tiny.CAMERAS[0][3], 90, 10)]
    read = [{"lon": 104.21, "lat": 30.0}, {"lon": SPOT[0], "lat": SPOT[1], "at": "2026-01-15T10:00:00+08:00"}]
    queries = [{"lon": lon, "lat": lat, "crs": crs} for lon, lat in kept for crs in ("cgcs2000", "gcj02")] + read
    first = [tiny_client.get("/locate", params=q) for q in queries]
    assert all(r.status_code == 200 for r in first), [r.text for r in first]
    event.listen(engine.pool, "checkout", listener)
    try:
        for query, answer in zip(queries, first):
            taken.clear()
            again = tiny_client.get("/locate", params=query)
            assert {**again.json(), "at": None} == {**answer.json(), "at": None}  # "at" is now, each time
            assert len(taken) == (1 if query in read else 0), query
    finally:
        event.remove(engine.pool, "checkout", listener)
    assert first[0].json()["cameras"] and first[-2].json()["nearest_grid"]


def test_a_bearing_a_hair_from_a_sectors_edge_is_in_view_in_memory_exactly_when_sql_says_so(tiny_engine):
    """The view rule in memory and in SQL decide alike even within 1e-9 degrees of the edge, where
    PostgreSQL's numeric arithmetic and floats part ways."""
    from sqlalchemy import text

    from geo_service.lookup.cameras import _in_view

    rng = np.random.default_rng(5)
    heading = np.round(rng.uniform(0, 360, 400), 1)
    fov = np.round(rng.uniform(10, 180, 400), 0)
    side = rng.choice([-1.0, 1.0], 400)
    hair = rng.choice([0.0, 1e-13, -1e-13, 3e-12, -3e-12, 1e-10, -1e-10], 400)
    bearing = np.mod(heading + side * fov / 2 + hair, 360.0)
    with tiny_engine.connect() as connection:
        by_sql = (
            connection.execute(
                text("""
            SELECT abs(mod((b - h + 540)::numeric, 360) - 180) <= f / 2
              FROM unnest(CAST(:b AS float8[]), CAST(:h AS float8[]), CAST(:f AS float8[])) AS t(b, h, f)"""),
                {"b": bearing.tolist(), "h": heading.tolist(), "f": fov.tolist()},
            )
            .scalars()
            .all()
        )
    in_memory = _in_view(bearing, heading, fov)
    assert in_memory.tolist() == by_sql
    float_only = np.abs(np.mod(bearing - heading + 540.0, 360.0) - 180.0) <= fov / 2
    assert (float_only != in_memory).any()  # the hair's breadth is there, and decided as SQL does
