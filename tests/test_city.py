"""A city in one deployment: the demo county (Renshou, 511421, 眉山市) beside two counties nobody
here drew, loaded from their own messy files: Xianyou (350322, 莆田市, Fujian, in another
Gauss-Krueger zone) and Da'an (510304, 自贡市, Sichuan, 19 parts).

Each county's users see their county and nothing of another's, on every kind of route; a city
user sees its counties; a province user (四川省) sees Renshou and Da'an and ranks them; each
county publishes its own boundaries without touching another's; and distances are measured in
each county's own zone.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from pyproj import Geod
from shapely.geometry import shape
from sqlalchemy import text

from geo_service.county.load import crs_options, import_county
from geo_service.db import migrate
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.demo.loader import load_demo
from geo_service.settings import Settings

from .conftest import FIGURES, SEED, signed_in
from .county_files import make_county, write_county_files
from .test_county_import import XIANYOU
from .test_jurisdiction_matrix import _tile, refused_as_unknown
from .test_wall import MEASURES as WALL_MEASURES

DAAN = XIANYOU.parent / "510304.geojson"
CST = timezone(timedelta(hours=8))
RENSHOU, XIANYOU_CODE, DAAN_CODE = "511421000000", "350322000000", "510304000000"
SPAN = {"start": "2025-01-01", "end": "2027-01-01"}
IN_FORCE = """(SELECT DISTINCT ON (county_code) id FROM boundary_versions
                WHERE status = 'published' AND effective_from <= now() ORDER BY county_code, effective_from DESC)"""


@dataclass(frozen=True)
class Things:
    """One county's things, as the tests find them in SQL."""

    county: str
    incident: int
    grid: str
    lon: float
    lat: float
    version: int
    incidents: int  # its incidents in SPAN, rejected and merged aside
    inside: int  # of those, the ones in a grid (the others are the county's to route by hand)


@pytest.fixture(scope="module")
def city_url(cluster, tmp_path_factory):
    """The demo county and two imported ones in one database."""
    name = f"geo_service_city_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    url = cluster.url(name)
    migrate.upgrade(url)
    settings = Settings(database_url=url)
    load_demo(get_engine(url), SEED, settings)
    for outline, code, seed in ((XIANYOU, "350322", 3), (DAAN, "510304", 5)):
        county = make_county(outline, code, seed=seed, towns=3, villages_per_town=3, grids_per_village=2, incidents=600)
        manifest = write_county_files(county, tmp_path_factory.mktemp(code))
        default, by_file = crs_options(manifest.crs_options()[1::2])
        report = import_county(
            get_engine(url),
            [manifest.folder],
            settings=settings,
            actor="tests",
            crs=default,
            crs_by_file=by_file,
            skip_bad_rows=True,
        )
        assert report.stored and report.summary["boundaries"]["outcome"] == "published", report.to_dict()
    yield url
    dispose_engines()
    cluster.drop_database(name)


def _things(engine, county: str) -> Things:
    with engine.connect() as c:
        incident = c.execute(
            text("SELECT id FROM incidents WHERE county_code = :c AND grid_code IS NOT NULL ORDER BY id LIMIT 1"),
            {"c": county},
        ).scalar()
        grid, lon, lat, version = c.execute(
            text(f"""SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)), version_id
                       FROM grids WHERE version_id IN {IN_FORCE} AND left(code, 6) = left(:c, 6) AND level = 1
                      ORDER BY ST_Area(geom) DESC LIMIT 1"""),
            {"c": county},
        ).one()
        incidents, inside = c.execute(
            text("""SELECT count(*), count(grid_code) FROM incidents
                     WHERE county_code = :c AND status NOT IN ('rejected', 'merged')
                       AND reported_at >= :start AND reported_at < :end"""),
            {"c": county, "start": datetime(2025, 1, 1, tzinfo=CST), "end": datetime(2027, 1, 1, tzinfo=CST)},
        ).one()
    return Things(county, incident, grid, lon, lat, version, incidents, inside)


@pytest.fixture(scope="module")
def counties(city_url) -> dict[str, Things]:
    engine = get_engine(city_url)
    return {code: _things(engine, code) for code in (RENSHOU, XIANYOU_CODE, DAAN_CODE)}


@pytest.fixture(scope="module")
def users(city_url):
    opened = {
        "renshou": signed_in(city_url, "admin", RENSHOU, expensive_per_minute=10_000),
        "xianyou": signed_in(city_url, "admin", XIANYOU_CODE, expensive_per_minute=10_000),
        "meishan": signed_in(city_url, "admin", "511400000000", expensive_per_minute=10_000),
        "sichuan": signed_in(city_url, "admin", "510000000000", expensive_per_minute=10_000),
    }
    for client in opened.values():
        client.__enter__()
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


# Which counties each user's jurisdiction holds.
SEES = {
    "renshou": {RENSHOU},
    "xianyou": {XIANYOU_CODE},
    "meishan": {RENSHOU},
    "sichuan": {RENSHOU, DAAN_CODE},
}
ALL = {RENSHOU, XIANYOU_CODE, DAAN_CODE}


def _county(code: str | None) -> str | None:
    return code[:6] + "000000" if code else None


@pytest.mark.slow
@pytest.mark.parametrize("user", list(SEES))
def test_a_user_sees_the_counties_of_their_jurisdiction_and_nothing_of_another(users, counties, user):
    client, mine, others = users[user], SEES[user], ALL - SEES[user]
    # Lists and features hold only their counties' incidents, all of them.
    page = client.get("/incidents", params={"limit": 1000, **SPAN})
    assert page.status_code == 200, page.text
    assert {_county(i["town"]["code"]) for i in page.json()["items"] if i["town"]} <= mine
    features = client.get("/features/collections/incidents/items", params={"limit": 10000}).json()["features"]
    assert features and {f["properties"]["county_code"] for f in features} <= mine
    # An analysis counts exactly their counties' incidents, by county and by town.
    by_county = client.get("/analysis/counts", params={"unit": "county", **SPAN}).json()["features"]
    assert {f["properties"]["code"]: f["properties"]["count"] for f in by_county} == {
        c: counties[c].incidents for c in mine
    }
    towns = client.get("/analysis/counts", params={"unit": "town", **SPAN}).json()["features"]
    assert {_county(f["properties"]["code"]) for f in towns} == mine
    assert sum(f["properties"]["count"] for f in towns) == sum(counties[c].inside for c in mine)
    ranks = client.get("/analysis/rankings", params={"level": "town", **SPAN}).json()["rows"]
    assert {_county(r["code"]) for r in ranks} == mine and {r["county_code"] for r in ranks} == mine
    hot = client.get("/analysis/hotspots", params={"unit": "grid", **SPAN}).json()["features"]
    assert {_county(f["properties"]["code"]) for f in hot} <= mine
    grids = client.get("/features/collections/grids/items", params={"limit": 10000}).json()["features"]
    assert {_county(f["id"]) for f in grids} == mine
    versions = client.get("/boundaries/versions").json()
    assert {v["county"] for v in versions} == mine
    for code in mine:
        own = counties[code]
        located = client.get("/locate", params={"lon": own.lon, "lat": own.lat}).json()
        assert located["county"]["code"] == code and located["boundary_version"]["id"] == own.version
        tile = client.get("/tiles/grids/{}/{}/{}.mvt".format(*_tile(own.lon, own.lat, 14)))
        assert tile.status_code == 200
    for code in others:
        other = counties[code]
        for path in (
            f"/incidents/{other.incident}",
            f"/incidents/{other.incident}/duplicates",
            f"/features/collections/incidents/items/{other.incident}",
            f"/features/collections/grids/items/{other.grid}",
            f"/boundaries/versions/{other.version}",
            f"/boundaries/versions/{other.version}/export",
            f"/boundaries/versions/{other.version}/impact",
        ):
            assert client.get(path).status_code == 404, path
        assert refused_as_unknown(client.post(f"/incidents/{other.incident}/urge", json={"note": "x"}))
        assert client.get("/locate", params={"lon": other.lon, "lat": other.lat}).status_code == 404
        assert client.get("/tiles/grids/{}/{}/{}.mvt".format(*_tile(other.lon, other.lat, 14))).status_code == 204
        assert client.get("/tiles/incidents/{}/{}/{}.mvt".format(*_tile(other.lon, other.lat, 14))).status_code == 204
        recorded = client.post(
            "/incidents",
            json={
                "external_id": f"CITY-{user}-{code}",
                "lon": other.lon,
                "lat": other.lat,
                "category": "dispute",
                "source": "hotline_12345",
                "reported_at": "2026-11-10T09:00:00+08:00",
            },
        )
        assert recorded.status_code == 403, recorded.text
        (row,) = client.post("/assign", json={"points": [{"lon": other.lon, "lat": other.lat}]}).json()["results"]
        assert row["status"] == "error" and row["grid_code"] is None
    extent = client.get("/map/extent").json()
    assert extent["bbox"] is not None and set(extent["counties"]) == mine
    FIGURES["city"] = f"{len(SEES)} users over 3 counties: every list, analysis, tile and lookup held to its own"


@pytest.mark.slow
def test_a_province_ranks_its_counties_and_towns_across_them(users, counties):
    ranks = users["sichuan"].get("/analysis/rankings", params={"level": "county", **SPAN}).json()["rows"]
    assert {r["code"]: r["cases"] for r in ranks} == {c: counties[c].incidents for c in (RENSHOU, DAAN_CODE)}
    assert sorted(r["rank"] for r in ranks) in ([1, 2], [1, 1])
    towns = users["sichuan"].get("/analysis/rankings", params={"level": "town", **SPAN}).json()["rows"]
    assert {r["county_code"] for r in towns} == {RENSHOU, DAAN_CODE}
    assert [r["rank"] for r in towns] == sorted(r["rank"] for r in towns)


@pytest.mark.slow
def test_a_report_in_a_county_nobody_here_drew_goes_to_its_own_people_and_says_so_in_chinese(city_url, users, counties):
    xianyou = counties[XIANYOU_CODE]
    made = users["xianyou"].post(
        "/incidents",
        json={
            "external_id": f"CITY-REPORT-{uuid.uuid4().hex[:8]}",
            "lon": xianyou.lon,
            "lat": xianyou.lat,
            "category": "dispute",
            "source": "hotline_12345",
            "reported_at": datetime.now(CST).isoformat(),
        },
    )
    assert made.status_code == 201, made.text
    case = made.json()
    assert case["status"] == "dispatched" and case["county"]["code"] == XIANYOU_CODE
    assert case["grid"]["code"].startswith(xianyou.grid)
    # Bound to Xianyou's own people, from its roster; each told by a message.
    with get_engine(city_url).connect() as c:
        bound = (
            c.execute(
                text("""SELECT DISTINCT a.unit_code FROM incident_officers b
                      JOIN officer_assignments a ON a.officer_id = b.officer_id
                     WHERE b.incident_id = :id"""),
                {"id": case["id"]},
            )
            .scalars()
            .all()
        )
        told = c.execute(
            text("SELECT count(*) FROM outbox WHERE incident_id = :id AND kind = 'dispatch'"), {"id": case["id"]}
        ).scalar()
    assert bound and all(code.startswith("350322") for code in bound)
    assert told == sum(1 for o in case["officers"] if o["tier"] == case["tier"] and not o["vacant"]) > 0
    chinese = users["xianyou"].get(f"/incidents/{case['id']}", headers={"Accept-Language": "zh-CN"}).json()
    dispatch = next(e for e in chinese["timeline"] if e["action"] == "dispatch")
    assert dispatch["note"].startswith(f"已分派至网格 {case['grid']['code']} {case['grid']['name']}")


@pytest.mark.slow
def test_distances_are_measured_in_each_countys_own_zone(users, counties):
    """A 500 m hexagon is 500 m on the ground in Fujian (120 E) as in Sichuan (105 E); drawn in the
    demo's zone a Xianyou hexagon would be 2.6% short."""
    geod = Geod(ellps="GRS80")
    for user in ("renshou", "xianyou"):
        cells = users[user].get("/analysis/counts", params={"unit": "hex", "size_m": 500, **SPAN}).json()["features"]
        assert cells
        ring = shape(cells[len(cells) // 2]["geometry"]).exterior.coords
        sides = [geod.inv(*a, *b)[2] for a, b in zip(ring[:-1], ring[1:])]
        assert all(abs(side - 500) < 0.5 for side in sides), (user, sides)


@pytest.mark.slow
def test_each_county_publishes_its_own_boundaries(city_url, users, counties):
    engine = get_engine(city_url)
    xianyou, renshou = users["xianyou"], users["renshou"]
    mine = counties[XIANYOU_CODE]
    # The planner of Xianyou redraws one village (new names, same shapes) and publishes it.
    grids = xianyou.get(
        "/features/collections/grids/items", params={"village_code": mine.grid[:12], "limit": 100}
    ).json()
    for feature in grids["features"]:
        feature["properties"] = {"code": feature["id"], "name": feature["properties"]["name"] + "(新)"}
    body = json.dumps({"type": "FeatureCollection", "features": grids["features"]}).encode()
    draft = xianyou.post(
        "/boundaries/drafts",
        files={"file": ("village.geojson", body, "application/geo+json")},
        data={"partial": "true", "crs": "cgcs2000", "name": "仙游-2026-redraw"},
    )
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["version"]["id"]
    assert draft.json()["base"]["id"] == mine.version
    # Renshou's users cannot see it, let alone publish it; Renshou's own version is untouched.
    assert renshou.get(f"/boundaries/versions/{draft_id}").status_code == 404
    moment = (datetime.now().astimezone() + timedelta(seconds=2)).isoformat()
    assert renshou.post(f"/boundaries/versions/{draft_id}/publish", json={"effective_from": moment}).status_code == 404
    published = xianyou.post(f"/boundaries/versions/{draft_id}/publish", json={"effective_from": moment})
    assert published.status_code == 200, published.text
    # Da'an publishes for the very same moment: each county's moments are its own.
    with engine.begin() as c:
        c.execute(
            text("""INSERT INTO boundary_versions (name, county_code, status, effective_from, published_at)
                    VALUES ('大安-same-moment', :c, 'published', :at, now())"""),
            {"c": DAAN_CODE, "at": moment},
        )
    time.sleep(2.5)
    renshou_now = renshou.get("/locate", params={"lon": counties[RENSHOU].lon, "lat": counties[RENSHOU].lat}).json()
    assert renshou_now["boundary_version"]["id"] == counties[RENSHOU].version
    xianyou_now = xianyou.get("/locate", params={"lon": mine.lon, "lat": mine.lat}).json()
    assert xianyou_now["boundary_version"]["id"] == draft_id
    assert xianyou_now["grid"]["name"].endswith("(新)") or mine.grid[:12] != xianyou_now["village"]["code"]
    phases = {v["id"]: v["phase"] for v in renshou.get("/boundaries/versions").json()}
    assert phases[counties[RENSHOU].version] == "in force"
    # The style pins every county's version in force: Xianyou's new one among them.
    pinned = renshou.get("/tiles/style.json").json()["metadata"]["geo_service:boundary_versions"]
    assert draft_id in pinned and counties[RENSHOU].version in pinned


@pytest.mark.slow
def test_a_version_holds_one_countys_places_and_published_ones_take_none(city_url, counties):
    engine = get_engine(city_url)
    with engine.connect() as c:
        draft = c.execute(
            text("INSERT INTO boundary_versions (name, status) VALUES ('mixed', 'draft') RETURNING id")
        ).scalar()
        c.execute(
            text("""INSERT INTO admin_units (version_id, code, level, kind, name, geom)
                    SELECT :d, code, level, kind, name, geom FROM admin_units
                     WHERE version_id = :v AND level = 'county'"""),
            {"d": draft, "v": counties[XIANYOU_CODE].version},
        )
        assert c.execute(text("SELECT county_code FROM boundary_versions WHERE id = :d"), {"d": draft}).scalar() == (
            XIANYOU_CODE
        )
        with pytest.raises(Exception, match="lies in county 511421"):
            c.execute(
                text("""INSERT INTO admin_units (version_id, code, level, kind, name, geom)
                        SELECT :d, code, level, kind, name, geom FROM admin_units
                         WHERE version_id = :v AND level = 'county'"""),
                {"d": draft, "v": counties[RENSHOU].version},
            )
        c.rollback()
        with pytest.raises(Exception, match="cannot be added to"):
            c.execute(
                text("""INSERT INTO grids (version_id, village_id, parent_id, code, name, level, geom)
                        SELECT version_id, village_id, id, code || '009', name, 2, geom FROM grids
                         WHERE version_id = :v AND level = 1 LIMIT 1"""),
                {"v": counties[DAAN_CODE].version},
            )
        c.rollback()


def _scope(engine, role: str, county: str):
    """What a county user may see, computed here from the tables (not by the library)."""
    from .test_jurisdiction_matrix import Scope

    with engine.connect() as c:
        grids = dict(
            c.execute(
                text(f"""SELECT g.code, v.code FROM grids g JOIN admin_units v ON v.id = g.village_id
                          WHERE g.version_id IN {IN_FORCE} AND left(g.code, 6) = left(:c, 6)"""),
                {"c": county},
            ).all()
        )
        towns = c.execute(
            text(
                f"SELECT code FROM admin_units WHERE version_id IN {IN_FORCE} AND level = 'town' AND left(code, 6) = left(:c, 6)"
            ),
            {"c": county},
        ).scalars()
        area = c.execute(
            text(f"SELECT ST_AsBinary(geom) FROM admin_units WHERE version_id IN {IN_FORCE} AND code = :c"),
            {"c": county},
        ).scalar()
        units = frozenset({county, *towns})
    import shapely

    return Scope(
        role,
        "county",
        county,
        shapely.from_wkb(bytes(area)),
        frozenset(grids),
        frozenset(grids.values()),
        county,
        units,
    )


def _other(engine, county: str):
    """Things of another county, for the matrix's probes."""
    from .test_jurisdiction_matrix import Other

    with engine.connect() as c:
        town, village = c.execute(
            text(
                "SELECT town_code, village_code FROM incidents WHERE county_code = :c AND village_code IS NOT NULL "
                "GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
            ),
            {"c": county},
        ).one()
        grid, lon, lat = c.execute(
            text(f"""SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids
                      WHERE version_id IN {IN_FORCE} AND left(code, 12) = :v AND level = 1 ORDER BY code LIMIT 1"""),
            {"v": village},
        ).one()
        incident = c.execute(
            text("SELECT id FROM incidents WHERE county_code = :c ORDER BY id LIMIT 1"), {"c": county}
        ).scalar()
        camera = c.execute(
            text(f"""SELECT device_code FROM cameras WHERE ST_Covers(
                       (SELECT geom FROM admin_units WHERE version_id IN {IN_FORCE} AND code = :c), geom)
                     ORDER BY device_code LIMIT 1"""),
            {"c": county},
        ).scalar()
    return Other(town, village, grid, incident, camera, lon, lat, _tile(lon, lat, 14))


MATRIX_PROBES = [
    "incident by id",
    "incident lists",
    "lookup",
    "batches",
    "places",
    "collection extents",
    "tiles",
    "analyses",
]


@pytest.mark.slow
@pytest.mark.parametrize(("mine", "theirs"), [(XIANYOU_CODE, RENSHOU), (RENSHOU, XIANYOU_CODE)])
@pytest.mark.parametrize("role", ["dispatcher", "leader"])
def test_the_jurisdiction_matrix_holds_across_counties(city_url, mine, theirs, role):
    """Every probe of the jurisdiction matrix (tests/test_jurisdiction_matrix.py), by a county's
    dispatcher and leader, against another county's things (recording elsewhere is probed above,
    where the county's own incidents at that minute cannot confuse it)."""
    from .test_jurisdiction_matrix import PROBES

    engine = get_engine(city_url)
    scope, other = _scope(engine, role, mine), _other(engine, theirs)
    with signed_in(city_url, role, mine, expensive_per_minute=10_000) as client:
        for probe in MATRIX_PROBES:
            PROBES[probe][0](client, scope, other)
    FIGURES["city matrix"] = f"{len(MATRIX_PROBES)} matrix probes x 2 roles x 2 counties, across counties"


def _open_in(engine, counties: set[str]) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("""
            SELECT count(*) FROM incidents
             WHERE status IN ('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')
               AND county_code = ANY(:counties)
        """),
            {"counties": sorted(counties)},
        ).scalar_one()


@pytest.mark.slow
@pytest.mark.parametrize("user", ["xianyou", "sichuan"])
def test_the_console_inbox_and_the_wall_screen_hold_the_users_counties_alone(city_url, users, user):
    """The pages' own data on counties loaded from their files: the inbox and the wall screen of
    a Xianyou user (another province, its own zone) and of the province over Renshou and Da'an."""
    client, seen = users[user], SEES[user]
    inbox = client.get("/inbox", params={"limit": 200}).json()
    listed = client.get("/incidents", params={"status": list(inbox["statuses"]), "limit": 1}).json()["total"]
    assert inbox["counts"]["open"] == listed > 0  # the inbox and the list hold the same open cases
    assert listed <= _open_in(get_engine(city_url), seen)
    assert inbox["items"] and {_county(i["town"]["code"]) for i in inbox["items"] if i["town"]} <= seen
    wall = client.get("/wall/summary").json()
    units = wall["overdue_by_unit"]["units"]
    assert units and {_county(u["code"]) for u in units} <= seen
    # Its figures, each counted where its index finds it, are those of their definitions over
    # the counties of the user's jurisdiction (as it stands: an empty version of Da'an published
    # by an earlier test leaves the province Renshou alone).
    held = set(client.get("/auth/me").json()["jurisdiction"]["counties"])
    assert held and held <= seen
    counted = 0
    with get_engine(city_url).connect() as connection:
        for period, figures in wall["figures"].items():
            for which, span in figures["spans"].items():
                for measure, condition in WALL_MEASURES.items():
                    expected = connection.execute(
                        text(f"SELECT count(*) FROM incidents WHERE county_code = ANY(:held) AND {condition}"),
                        {"held": sorted(held), "start": span["start"], "end": span["end"]},
                    ).scalar_one()
                    assert figures[measure][which] == expected, (user, period, which, measure)
                    counted += expected
    assert counted > 0
    assert wall["unit"] == ("county" if user == "sichuan" else "town")
    # A refusal reads in Chinese for a county of another province as for the demo.
    refused = client.get("/inbox", params={"bucket": "nonsense"}, headers={"Accept-Language": "zh-CN"})
    assert refused.status_code == 422 and "须为" in refused.json()["message"], refused.json()


def test_cameras_kept_in_memory_answer_as_the_database_does_in_every_county_and_jurisdiction(city_url):
    """A lookup's cameras come from those each worker keeps; the same rule in SQL (read while
    changes cannot be heard) gives the same cameras, in the same order, with the same distances
    and bearings to the last bit (a point exactly at a sector's edge or its range's end is in or
    out in both), at points around cameras of all three counties (on the camera itself, within its
    sector, on its edge, just past its range) and for users of a town, a county, the city and the
    province."""
    from geo_service.auth.jurisdiction import EVERYTHING, resolve
    from geo_service.lookup.cameras import KeptCameras, _reach_box, cameras_seeing_in_database

    engine = get_engine(city_url)
    with engine.connect() as c:
        points = c.execute(
            text("""
            SELECT left(device_code, 6), ST_X(p), ST_Y(p) FROM (
                SELECT device_code, unnest(ARRAY[
                    geom,
                    ST_Project(geom::geography, range_m * 0.7, radians(heading_deg))::geometry,
                    ST_Project(geom::geography, range_m * 1.02, radians(heading_deg + fov_deg / 2))::geometry,
                    ST_Project(geom::geography, range_m * 0.5, radians(heading_deg - fov_deg / 2))::geometry,
                    ST_Project(geom::geography, 150, radians(heading_deg + 180))::geometry]) AS p
                  FROM (SELECT *, row_number() OVER (PARTITION BY left(device_code, 6) ORDER BY md5(device_code)) n
                          FROM cameras) ranked
                 WHERE n <= 40) around"""),
        ).all()
        town = c.execute(
            text("SELECT code FROM admin_units WHERE level = 'town' AND left(code, 6) = '350322' ORDER BY code LIMIT 1")
        ).scalar()
        scopes = [EVERYTHING] + [
            resolve(c, code, "Asia/Shanghai") for code in (town, XIANYOU_CODE, "511400000000", "510000000000")
        ]
        kept = KeptCameras.load(c)
        assert {p[0] for p in points} >= {"511421", "350322", "510304"}
        compared = listed = at_range_end = 0
        for _, lon, lat in points:
            for scope in scopes:
                for radius in (300.0, 40.0):
                    from_sql = cameras_seeing_in_database(c, lon, lat, radius, 20, scope)
                    from_memory = kept.seeing(lon, lat, radius, 20, scope, _reach_box(lon, lat, radius))
                    assert from_memory == from_sql  # every field, to the last bit
                    compared += 1
                    listed += bool(from_sql)
                    at_range_end += any(v.distance_m == v.range_m for v in from_sql)
    # Outside a user's jurisdiction no camera is listed: about half the points and scopes list some.
    assert compared == len(points) * len(scopes) * 2 and listed > compared / 3 and at_range_end


POINT_LAYERS = {  # each point layer, the zoom it is drawn at here, and the point of each of its features
    "incidents": (14, "SELECT id, geom AS p FROM incidents"),
    "cameras": (14, "SELECT id, geom AS p FROM cameras"),
    "incident_counts": (12, "SELECT id, ST_PointOnSurface(geom) AS p FROM grids"),
}


def test_a_users_point_tiles_hold_exactly_the_features_whose_point_their_jurisdiction_covers(city_url):
    """A tile of points is drawn for a user with only the part of their jurisdiction's area near
    it (a city-wide user's tile would otherwise carry the city's whole outline). It must hold
    exactly the features of the tile drawn for everyone whose point the whole area covers, on
    tiles across the borders of a town, a county, the city and the province, and inside them."""
    import mapbox_vector_tile

    from geo_service.auth.jurisdiction import resolve
    from geo_service.boundaries.versions import in_force
    from geo_service.tiles.layers import load_layers
    from geo_service.tiles.mvt import Tile, render_tile

    layers, place = load_layers(), Settings(database_url=city_url).place
    engine = get_engine(city_url)

    def ids(data: bytes, layer: str) -> set[int]:
        decoded = mapbox_vector_tile.decode(data) if data else {}
        return {f["id"] for f in decoded.get(layer, {}).get("features", [])}

    partial = 0
    with engine.connect() as c:
        versions = in_force(c, datetime.now(CST)).ids
        town = c.execute(
            text("SELECT town_code FROM incidents WHERE county_code = :c GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"),
            {"c": RENSHOU},
        ).scalar()
        for code in (town, XIANYOU_CODE, "511400000000", "510000000000"):
            scope = resolve(c, code, "Asia/Shanghai")
            # Points on the area's edge (every 40th vertex of its outline) and its inner point.
            spots = c.execute(
                text("""
                SELECT ST_X(p), ST_Y(p) FROM (
                    SELECT (ST_DumpPoints(ST_Boundary(ST_GeomFromEWKB(:area)))).* ) d, LATERAL (SELECT d.geom AS p) q
                 WHERE d.path[array_length(d.path, 1)] % 40 = 0
                UNION ALL SELECT ST_X(ST_PointOnSurface(ST_GeomFromEWKB(:area))), ST_Y(ST_PointOnSurface(ST_GeomFromEWKB(:area)))"""),
                {"area": scope.area},
            ).all()
            for name, (z, points) in POINT_LAYERS.items():
                layer = layers[name]
                for lon, lat in spots[:: max(1, len(spots) // 12)]:
                    tile = Tile.at(lon, lat, z)
                    everyone = ids(render_tile(c, layer, tile, version_ids=versions, place=place), name)
                    mine = ids(render_tile(c, layer, tile, version_ids=versions, place=place, scope=scope), name)
                    covered = set(
                        c.execute(
                            text(f"""SELECT id FROM ({points}) f WHERE id = ANY(:ids)
                                       AND ST_Covers(ST_GeomFromEWKB(:area), p)"""),
                            {"ids": list(everyone), "area": scope.area},
                        ).scalars()
                    )
                    assert mine == covered, (code, name, tile)
                    partial += bool(mine) and mine != everyone
    assert partial >= 4  # tiles on the borders, with features on both sides, were drawn
