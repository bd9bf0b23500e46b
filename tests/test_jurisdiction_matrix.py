"""The jurisdiction matrix: users of one town (its dispatcher and its leader, a dispatcher of one
of its villages, a grid worker of one of its grids) ask every route of the API for another town's
data. Each cell of users x probes must answer nothing of it: an item by id is 404 (or a 403 for
the user's *role*, which says nothing of the item), a list or an analysis holds only the user's
own part of the county, a tile far inside the other town is empty.

A last test checks that every route of the app is probed here or named as holding no data of a
place, so a route added later without a probe fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass

import mapbox_vector_tile
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import text

from geo_service.tiles.mvt import Tile

from .conftest import FIGURES, signed_in
from .matrix_probes import gathered
from .matrix_probes.departments import DEPARTMENT_PROBES, department_world

IN_FORCE = "(SELECT id FROM boundary_versions WHERE status = 'published' ORDER BY effective_from DESC LIMIT 1)"
MONTH = {"start": "2026-09-01", "end": "2026-10-01"}


@dataclass(frozen=True)
class Scope:
    """A user's jurisdiction, as the tests see it (computed here, not by the library)."""

    role: str
    level: str
    code: str
    area: shapely.Geometry
    grids: frozenset[str]
    villages: frozenset[str]
    town: str
    units: frozenset[str] = frozenset()  # the towns (and county) in scope, beside the villages

    def holds_incident(self, town: str | None, village: str | None, grid: str | None) -> bool:
        return {
            "county": (town or village or grid or "")[:6] == self.code[:6],
            "town": town == self.code,
            "village": village == self.code,
            "grid": bool(grid) and grid.startswith(self.code),
        }[self.level]


@dataclass(frozen=True)
class Other:
    """Things of the other town, far from the user's."""

    town: str
    village: str
    grid: str
    incident: int
    camera: str
    lon: float
    lat: float
    tile: tuple[int, int, int]


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    tile = Tile.at(lon, lat, z)
    return tile.z, tile.x, tile.y


@pytest.fixture(scope="module")
def places(engine) -> tuple[dict[str, Scope], Other]:
    with engine.connect() as c:
        own, other = (
            c.execute(text("SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")).scalars().all()
        )
        village = c.execute(
            text("SELECT village_code FROM incidents WHERE town_code = :t GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"),
            {"t": own},
        ).scalar()
        grid = c.execute(
            text(
                "SELECT left(grid_code, 15) FROM incidents WHERE village_code = :v GROUP BY 1 "
                "ORDER BY count(*) DESC LIMIT 1"
            ),
            {"v": village},
        ).scalar()
        grids = dict(
            c.execute(
                text(f"""
            SELECT g.code, v.code FROM grids g JOIN admin_units v ON v.id = g.village_id
             WHERE g.version_id = {IN_FORCE}""")
            ).all()
        )
        town_of_village = dict(
            c.execute(
                text(f"""
            SELECT v.code, t.code FROM admin_units v JOIN admin_units t ON t.id = v.parent_id
             WHERE v.version_id = {IN_FORCE} AND v.level = 'village'""")
            ).all()
        )

        def area(code: str, table: str = "admin_units") -> shapely.Geometry:
            return shapely.from_wkb(
                bytes(
                    c.execute(
                        text(f"SELECT ST_AsBinary(geom) FROM {table} WHERE version_id = {IN_FORCE} AND code = :c"),
                        {"c": code},
                    ).scalar()
                )
            )

        # The other town's grid farthest from the user's town, so that a tile around it holds nothing of ours.
        far_grid, lon, lat = c.execute(
            text(f"""
            SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
              FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id,
                   admin_units mine
             WHERE g.version_id = {IN_FORCE} AND t.code = :other AND g.level = 1
               AND mine.version_id = {IN_FORCE} AND mine.code = :own
             ORDER BY ST_Distance(g.geom, mine.geom) DESC LIMIT 1"""),
            {"other": other, "own": own},
        ).one()
        incident = c.execute(
            text("SELECT id FROM incidents WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": other}
        ).scalar()
        camera = c.execute(
            text(f"""SELECT device_code FROM cameras WHERE ST_Covers(
            (SELECT geom FROM admin_units WHERE version_id = {IN_FORCE} AND code = :t), geom)
            ORDER BY device_code LIMIT 1"""),
            {"t": other},
        ).scalar()

        def scope(role: str, level: str, code: str) -> Scope:
            in_scope = {
                g
                for g, v in grids.items()
                if {"town": town_of_village.get(v) == code, "village": v == code, "grid": g.startswith(code)}[level]
            }
            shape_ = area(code, "grids" if level == "grid" else "admin_units")
            units = frozenset({own} if level == "town" else set())
            return Scope(
                role, level, code, shape_, frozenset(in_scope), frozenset(grids[g] for g in in_scope), own, units
            )

        users = {
            "town dispatcher": scope("dispatcher", "town", own),
            "town leader": scope("leader", "town", own),
            "village dispatcher": scope("dispatcher", "village", village),
            "grid worker": scope("grid_worker", "grid", grid),
        }

    return users, Other(other, grids[far_grid], far_grid, incident, camera, lon, lat, _tile(lon, lat, 14))


@pytest.fixture(scope="module")
def clients(demo_url, places):
    users, _ = places
    opened = {name: signed_in(demo_url, s.role, s.code, expensive_per_minute=10_000) for name, s in users.items()}
    for client in opened.values():
        client.__enter__()
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


def refused_as_unknown(answer) -> bool:
    """404, or a 403 for the role (the same for every item, so it confirms nothing)."""
    return answer.status_code == 404 or (answer.status_code == 403 and answer.json().get("field") == "permission")


def role_refused(answer) -> bool:
    return answer.status_code == 403 and answer.json().get("field") == "permission"


def inside(scope: Scope, geometry: dict, slack_m: float = 0) -> bool:
    """A feature's geometry within the user's area (``slack_m`` for hexagons and cells on its edge)."""
    point = shape(geometry).representative_point() if slack_m == 0 else shape(geometry).centroid
    return scope.area.buffer(slack_m / 111_000 + 1e-7).covers(point)


# -- the probes: (name, routes probed, check) -----------------------------------------------------


def probe_incident_by_id(client, scope, other):
    for path in (
        f"/incidents/{other.incident}",
        f"/incidents/{other.incident}/duplicates",
        f"/features/collections/incidents/items/{other.incident}",
    ):
        assert refused_as_unknown(client.get(path)), path
    for action in ("urge", "accept", "escalate"):
        answer = client.post(f"/incidents/{other.incident}/{action}", json={"note": "x"})
        assert refused_as_unknown(answer), (action, answer.text)


def probe_incident_lists(client, scope, other):
    page = client.get("/incidents", params={"limit": 1000})
    if role_refused(page):
        return
    items = page.json()["items"]
    assert items and all(
        scope.holds_incident(*((i[k] or {}).get("code") for k in ("town", "village", "grid"))) for i in items
    )
    assert client.get("/incidents", params={"town": other.town}).json()["total"] == 0
    assert client.get("/incidents", params={"grid": other.grid}).json()["total"] == 0
    features = client.get("/features/collections/incidents/items", params={"limit": 10000}).json()["features"]
    assert all(
        scope.holds_incident(
            f["properties"]["town_code"], f["properties"]["village_code"], f["properties"]["grid_code"]
        )
        for f in features
    )
    assert (
        client.get("/features/collections/incidents/items", params={"town_code": other.town}).json()["numberMatched"]
        == 0
    )
    sla = client.get("/sla", params={"cases": "true", "at": "2026-11-10T00:00:00"}).json()
    assert all(v["village_code"] in scope.villages for v in sla["villages"])
    assert all(scope.holds_incident(c["town_code"], c["village_code"], c["grid_code"]) for c in sla["cases"])


def probe_recording_elsewhere(client, scope, other):
    answer = client.post(
        "/incidents",
        json={
            "external_id": f"MATRIX-{scope.role}-{scope.code}",
            "lon": other.lon,
            "lat": other.lat,
            "category": "dispute",
            "source": "hotline_12345",
            "reported_at": "2026-11-10T09:00:00+08:00",
        },
    )
    assert answer.status_code == 403, answer.text
    assert (
        client.get(
            "/incidents", params={"limit": 1, "start": "2026-11-10T08:59:00+08:00", "end": "2026-11-10T09:01:00+08:00"}
        )
        .json()
        .get("total", 0)
        == 0
    )


def probe_bulk(client, scope, other):
    """Batches name nothing of the other place: its point is an error row, nothing is recorded there."""
    answer = client.post("/assign", json={"points": [{"lon": other.lon, "lat": other.lat}]})
    if role_refused(answer):
        return
    (row,) = answer.json()["results"]
    assert row["status"] == "error" and row["grid_code"] is None and row["town_code"] is None, row
    incident = {
        "external_id": f"MATRIX-BATCH-{scope.role}-{scope.code}",
        "lon": other.lon,
        "lat": other.lat,
        "category": "dispute",
        "source": "hotline_12345",
        "reported_at": "2026-11-10T09:00:00+08:00",
    }
    answer = client.post("/incidents/batch", json={"incidents": [incident]})
    if role_refused(answer):
        return
    assert answer.json()["counts"]["created"] == 0 and "jurisdiction" in answer.json()["rows"][0]["error"]


def probe_lookup(client, scope, other):
    assert refused_as_unknown(client.get("/locate", params={"lon": other.lon, "lat": other.lat}))


def probe_places(client, scope, other):
    for path in (
        f"/features/collections/grids/items/{other.grid}",
        f"/features/collections/grids-v1/items/{other.grid}",
        f"/features/collections/admin_units/items/{other.town}",
        f"/features/collections/admin_units/items/{other.village}",
        f"/features/collections/cameras/items/{other.camera}",
    ):
        assert refused_as_unknown(client.get(path)), path
    grids = client.get("/features/collections/grids/items", params={"limit": 10000}).json()["features"]
    assert grids and {f["id"] for f in grids} <= scope.grids
    assert (
        client.get("/features/collections/grids-v1/items", params={"village_code": other.village}).json()[
            "numberMatched"
        ]
        == 0
    )
    units = client.get("/features/collections/admin_units/items", params={"limit": 10000}).json()["features"]
    assert {f["id"] for f in units} <= scope.units | scope.villages
    cameras = client.get("/features/collections/cameras/items", params={"limit": 10000})
    if not role_refused(cameras):
        assert all(inside(scope, f["geometry"]) for f in cameras.json()["features"])


def probe_collection_extents(client, scope, other):
    west, south, east, north = scope.area.bounds
    listed = client.get("/features/collections").json()["collections"]
    for collection in listed:
        one = client.get(f"/features/collections/{collection['id']}").json()
        for document in (collection, one):
            box = document["extent"].get("spatial", {}).get("bbox", [None])[0]
            if box:
                assert (
                    box[0] >= west - 1e-6
                    and box[2] <= east + 1e-6
                    and box[1] >= south - 1e-6
                    and box[3] <= north + 1e-6
                ), (collection["id"], box, scope.area.bounds)
    extent = client.get("/map/extent").json()
    assert extent["code"] == scope.code and extent["bbox"] is not None


def probe_tiles(client, scope, other):
    for layer in client.get("/tiles").json()["layers"]:
        z, x, y = _tile(other.lon, other.lat, max(14, layer["minzoom"]))
        params = {"start": "2025-11-17"} if layer["name"].startswith("incident") else {}
        answer = client.get(f"/tiles/{layer['name']}/{z}/{x}/{y}.mvt", params=params)
        assert answer.status_code == 204 or role_refused(answer), (layer["name"], answer.status_code, answer.text)
    z, x, y = _tile(other.lon, other.lat, 10)
    for layer in ("towns", "villages", "incident_counts"):
        params = {"start": "2025-11-17"} if layer.startswith("incident") else {}
        answer = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", params=params)
        assert answer.status_code in (200, 204) or role_refused(answer), (layer, answer.text)
        if answer.status_code == 200:
            features = mapbox_vector_tile.decode(answer.content)[layer]["features"]
            codes = {f["properties"].get("code") for f in features}
            assert codes <= scope.grids | scope.villages | scope.units, (layer, codes)


ANALYSES = [
    ("/analysis/counts", {"unit": "village"}, 0),
    ("/analysis/density", {"size_m": 500}, 600),
    ("/analysis/kde", {"cell_m": 500}, 600),
    ("/analysis/clusters", {"eps_m": 200, "min_points": 5}, 0),
    ("/analysis/hotspots", {"unit": "grid"}, 0),
    ("/analysis/emerging", {"unit": "grid", "step_days": 7}, 0),
    ("/analysis/compare", {"preset": "month", "at": "2026-10-01", "unit": "grid"}, 0),
    ("/analysis/coverage", {"unit": "grid"}, 0),
]


def probe_analyses(client, scope, other):
    for path, params, slack in ANALYSES:
        params = {**(MONTH if "preset" not in params else {}), **params}
        if path == "/analysis/emerging":
            params = {**params, "start": "2026-06-01"}
        answer = client.get(path, params=params)
        if role_refused(answer) or answer.status_code == 422:  # 422: too little in a small jurisdiction
            continue
        assert answer.status_code == 200, (path, answer.text)
        for feature in answer.json()["features"]:
            code = feature["properties"].get("code")
            if path != "/analysis/density" and code and code[:1].isdigit():
                assert code in scope.grids or code in scope.villages or code in scope.units, (path, code)
            assert inside(scope, feature["geometry"], slack), (path, feature["properties"])
    ranks = client.get("/analysis/rankings", params={"level": "village", **MONTH})
    if not role_refused(ranks):
        assert {r["code"] for r in ranks.json()["rows"]} <= scope.villages


COUNTY_ONLY = [
    ("GET", "/audit"),
    ("GET", "/boundaries/versions/1/checks"),
    ("GET", "/boundaries/versions/1/impact"),
    ("GET", "/boundaries/versions/1/impact/map"),
    ("GET", "/boundaries/versions/1/workload"),
    ("GET", "/boundaries/versions/1/export"),
    ("POST", "/boundaries/versions/1/repair"),
    ("POST", "/boundaries/versions/1/publish"),
    ("POST", "/boundaries/versions/1/retire"),
    ("POST", "/boundaries/drafts"),
    ("GET", "/rules"),
    ("GET", "/rules/export"),
    ("POST", "/rules/import"),
    ("POST", "/county/import"),
]


def probe_county_work(client, scope, other):
    for method, path in COUNTY_ONLY:
        body = {"effective_from": "2030-01-01T00:00:00"} if path.endswith("publish") else {}
        answer = client.request(method, path, json=body if method == "POST" else None)
        assert answer.status_code == 403 and answer.json()["field"] in ("jurisdiction", "permission"), path


PROBES = {
    "incident by id": (
        probe_incident_by_id,
        [
            "GET /incidents/{incident_id}",
            "GET /incidents/{incident_id}/duplicates",
            "POST /incidents/{incident_id}/{action}",
            "GET /features/collections/{collection_id}/items/{feature_id}",
        ],
    ),
    "incident lists": (
        probe_incident_lists,
        ["GET /incidents", "GET /sla", "GET /features/collections/{collection_id}/items"],
    ),
    "recording elsewhere": (probe_recording_elsewhere, ["POST /incidents"]),
    "lookup": (probe_lookup, ["GET /locate"]),
    "batches": (probe_bulk, ["POST /assign", "POST /incidents/batch"]),
    "places": (probe_places, []),
    "collection extents": (
        probe_collection_extents,
        ["GET /features/collections", "GET /features/collections/{collection_id}", "GET /map/extent"],
    ),
    "tiles": (probe_tiles, ["GET /tiles/{layer}/{z}/{x}/{y}.mvt"]),
    "analyses": (probe_analyses, [f"GET {path}" for path, _, _ in ANALYSES] + ["GET /analysis/rankings"]),
    "county-wide work": (
        probe_county_work,
        [f"{m} /{p.split('/', 1)[1].replace('/1/', '/{version}/')}" for m, p in COUNTY_ONLY],
    ),
}
_MORE_PROBES, _MORE_NO_PLACE_DATA = gathered()
PROBES.update(_MORE_PROBES)
USERS = ["town dispatcher", "town leader", "village dispatcher", "grid worker"]

# Routes that hold no data of a place: documents, the user's own identity, datum arithmetic, the
# list of boundary versions and of layers and their styles.
NO_PLACE_DATA = {
    "GET /healthz",
    "GET /auth/me",
    "GET /map/config.json",
    "GET /map/convert",
    "POST /map/convert",
    "GET /features/",
    "GET /features/conformance",
    "GET /boundaries/versions",
    "GET /boundaries/versions/{version}",
    "GET /features/collections/{collection_id}/queryables",  # a collection's property names and types
    "GET /tiles",
    "GET /tiles/style.json",
    "GET /tiles/{layer}.json",
    "GET /rules/{table}",  # the rule tables: county-wide, refused as /rules is (test_rules_admin.py)
    "PUT /rules/{table}",
    "GET /i18n/{language}.json",  # the pages' words and the names of categories, sources and roles
} | _MORE_NO_PLACE_DATA


@pytest.mark.parametrize("probe", list(PROBES))
@pytest.mark.parametrize("user", USERS)
def test_nothing_of_another_town_reaches_a_town_user(clients, places, user, probe):
    users, other = places
    PROBES[probe][0](clients[user], users[user], other)
    FIGURES["jurisdiction matrix"] = (
        f"{len(USERS)} users x {len(PROBES)} probes = {len(USERS) * len(PROBES)} cells "
        f"over {len({r for _, routes in PROBES.values() for r in routes})} routes"
    )


def test_every_route_is_probed_or_holds_no_data_of_a_place(demo_url):
    """Over the OpenAPI document: the page's own files and the documents are outside it, and public."""
    from geo_service.api.app import create_app
    from geo_service.settings import Settings

    document = create_app(Settings(database_url=demo_url)).openapi()
    routes = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    probed = {r for _, covered in PROBES.values() for r in covered}
    assert routes - probed - NO_PLACE_DATA == set()
    assert probed <= routes  # the probes name real routes


# -- a department's user: its cases anywhere in the county, and nothing else ---------------------


@pytest.fixture(scope="module")
def department(module_demo_copy_url):
    """A user of the county's water bureau, which holds open cases of several towns (a private copy)."""
    yield from department_world(module_demo_copy_url)


@pytest.mark.parametrize("probe", list(DEPARTMENT_PROBES))
def test_nothing_but_its_departments_cases_reaches_a_department_user(department, probe):
    DEPARTMENT_PROBES[probe](department.client, department)
    FIGURES["jurisdiction matrix, department"] = (
        f"a department user x {len(DEPARTMENT_PROBES)} probes over {len(department.cases)} cases "
        f"in {len(department.towns)} towns"
    )
