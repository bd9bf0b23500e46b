"""Departments in the jurisdiction matrix.

``PROBES``: a town's users see of the departments' work only their own town's: a case of the other
town held by a department (its transfer, its inbox, its counts) is not found or not counted.

``DEPARTMENT_PROBES`` (run by ``test_jurisdiction_matrix`` for a user of the county's water bureau,
on a private copy of the demo where open cases of several towns were transferred to it): that
user sees the bureau's cases anywhere in the county and nothing else, in every read of incidents
(lists, items, features, tiles, the SLA view, the inbox, the wall screen, analyses, rankings),
while the county's maps of grids and boundaries are theirs to see.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import text

WATER = "511421_water"
SPAN = {"start": "2025-11-16", "end": "2026-12-01"}


# -- a town's users --------------------------------------------------------------------------------


def _held_elsewhere(client, other) -> tuple[int, int]:
    """A closed case of the other town that the water bureau handled (its transfer accepted): written
    once into the session's database, where a closed case's department changes nothing that the
    other tests count. Returns (incident id, transfer id)."""
    engine = client.app.state.engine
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(5114215)"))
        found = connection.execute(
            text("""SELECT tr.incident_id, tr.id FROM incident_transfers tr JOIN incidents i ON i.id = tr.incident_id
                     WHERE i.town_code = :t AND tr.transferred_by = 'matrix'"""),
            {"t": other.town},
        ).first()
        if found is not None:
            return found[0], found[1]
        incident = connection.execute(
            text("SELECT id FROM incidents WHERE town_code = :t AND status = 'closed' ORDER BY id LIMIT 1"),
            {"t": other.town},
        ).scalar()
        connection.execute(text("UPDATE incidents SET department = :d WHERE id = :id"), {"d": WATER, "id": incident})
        transfer = connection.execute(
            text("""
            INSERT INTO incident_transfers (incident_id, county_code, department, state, transferred_at,
                                            transferred_by, decided_at, decided_by)
            SELECT id, county_code, :d, 'accepted', dispatched_at, 'matrix', dispatched_at, 'matrix'
              FROM incidents WHERE id = :id RETURNING id"""),
            {"d": WATER, "id": incident},
        ).scalar()
    return incident, transfer


def probe_departments(client, scope, other):
    from ..test_jurisdiction_matrix import refused_as_unknown, role_refused

    incident, transfer = _held_elsewhere(client, other)
    for path in (f"/incidents/{incident}/transfers", f"/transfers/{transfer}"):
        assert refused_as_unknown(client.get(path)), path
    for path in (f"/transfers/{transfer}/accept", f"/transfers/{transfer}/return"):
        assert refused_as_unknown(client.post(path, json={"reason": "x"})), path
    made = client.post("/transfers", json={"incident_id": incident, "department": WATER})
    assert refused_as_unknown(made), made.text
    listed = client.get("/departments")
    if role_refused(listed):
        return
    departments = listed.json()["departments"]
    assert departments and all(d["town_code"] in (None, scope.town) for d in departments)
    assert all(d["pending"] + d["handling"] + d["overdue"] + d["done"] == 0 for d in departments)
    assert client.get(f"/departments/{WATER}").json()["done"] == 0
    assert client.get(f"/departments/{WATER}/cases").json()["total"] == 0
    ranks = client.get("/analysis/rankings", params={"level": "department", **SPAN})
    if not role_refused(ranks):
        assert ranks.json()["rows"] == []


PROBES = {
    "departments": (
        probe_departments,
        [
            "GET /departments",
            "GET /departments/{code}",
            "GET /departments/{code}/cases",
            "POST /transfers",
            "GET /transfers/{transfer_id}",
            "POST /transfers/{transfer_id}/accept",
            "POST /transfers/{transfer_id}/return",
            "GET /incidents/{incident_id}/transfers",
        ],
    )
}
NO_PLACE_DATA = {"GET /matters"}  # the county's list of matters


# -- a department's user --------------------------------------------------------------------------


@dataclass(frozen=True)
class DepartmentWorld:
    """What the water bureau's user should see: its cases (id -> (lon, lat)), the towns they lie
    in, cases of those towns it does not hold, and the county's grids."""

    client: object
    cases: dict[int, tuple[float, float]]
    towns: frozenset[str]
    others: tuple[int, ...]
    other_spot: tuple[float, float]  # a case of another town, far from every one of the bureau's
    grids: int


def department_world(url: str) -> Iterator[DepartmentWorld]:
    """Open public-service cases of four towns transferred to the water bureau on a private copy,
    half of them accepted, and a client signed in as a user of the bureau."""
    from datetime import UTC, datetime

    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app
    from geo_service.auth.users import add_user
    from geo_service.cases.transfers import Target, accept, transfer_cases
    from geo_service.db.engine import get_engine
    from geo_service.settings import Settings

    from ..conftest import ENGLISH

    engine, settings = get_engine(url), Settings(database_url=url)
    with engine.begin() as connection:
        picked = connection.execute(
            text("""
            SELECT id FROM (
                SELECT id, town_code, row_number() OVER (PARTITION BY town_code ORDER BY id) AS n
                  FROM incidents WHERE status IN ('dispatched', 'accepted', 'in_progress') AND category = 'public_service'
                   AND town_code IN (SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 4)
            ) x WHERE n <= 10 ORDER BY id""")
        ).scalars()
        made = transfer_cases(
            connection,
            [Target(i, WATER, reason="matrix") for i in picked],
            datetime.now(UTC),
            actor="matrix",
            signed_in="matrix",
        )
        for transfer in list(made.values())[::2]:
            accept(connection, transfer, actor="matrix", signed_in="matrix")
        cases = {
            r[0]: (r[1], r[2])
            for r in connection.execute(
                text("SELECT id, ST_X(geom), ST_Y(geom) FROM incidents WHERE department = :d"), {"d": WATER}
            )
        }
        towns = frozenset(
            connection.execute(
                text("SELECT DISTINCT town_code FROM incidents WHERE department = :d"), {"d": WATER}
            ).scalars()
        )
        others = tuple(
            connection.execute(
                text("""SELECT id FROM incidents WHERE town_code = ANY(:towns) AND department IS NULL
                         ORDER BY id DESC LIMIT 5"""),
                {"towns": list(towns)},
            ).scalars()
        )
        spot = connection.execute(
            text("""
            SELECT ST_X(i.geom), ST_Y(i.geom) FROM incidents i
             WHERE i.department IS NULL AND NOT i.town_code = ANY(:towns) AND i.id % 500 = 0
             ORDER BY (SELECT min(ST_Distance(i.geom, w.geom)) FROM incidents w WHERE w.department = :d) DESC
             LIMIT 1"""),
            {"towns": list(towns), "d": WATER},
        ).one()
        grids = connection.execute(
            text("""SELECT count(*) FROM grids WHERE version_id =
                     (SELECT id FROM boundary_versions WHERE status = 'published' ORDER BY effective_from DESC LIMIT 1)""")
        ).scalar()
    _, token = add_user(engine, "水务局用户", "dispatcher", None, settings=settings, actor="tests", department=WATER)
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}", **ENGLISH}) as client:
        yield DepartmentWorld(client, cases, towns, others, tuple(spot), grids)


def _tile(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def dept_by_id(client, world):
    own = min(world.cases)
    assert client.get(f"/incidents/{own}").status_code == 200
    for other in world.others:
        for path in (
            f"/incidents/{other}",
            f"/incidents/{other}/duplicates",
            f"/incidents/{other}/transfers",
            f"/features/collections/incidents/items/{other}",
        ):
            assert client.get(path).status_code == 404, path
        assert client.post(f"/incidents/{other}/urge", json={}).status_code == 404


def dept_lists(client, world):
    ids = set(world.cases)
    listed = client.get("/incidents", params={"limit": 1000}).json()
    assert {i["id"] for i in listed["items"]} == ids and listed["total"] == len(ids)
    assert {i["town"]["code"] for i in listed["items"]} == set(world.towns) and len(world.towns) >= 3
    features = client.get("/features/collections/incidents/items", params={"limit": 1000}).json()
    assert {f["id"] for f in features["features"]} == ids
    sla = client.get("/sla", params={"cases": "true", "at": "2030-01-01T00:00:00"}).json()
    assert {c["id"] for c in sla["cases"]} == ids  # every one is overdue by then
    assert [(d["department"], d["overdue"]) for d in sla["departments"]] == [(WATER, len(ids))]
    inbox = client.get("/inbox", params={"limit": 200}).json()
    assert inbox["total"] == len(ids) and {c["id"] for c in inbox["items"]} == ids
    held = client.get(f"/departments/{WATER}/cases", params={"limit": 1000}).json()
    assert held["total"] == len(ids)
    (department,) = client.get("/departments").json()["departments"]
    assert department["code"] == WATER and department["pending"] + department["handling"] == len(ids)


def dept_tiles(client, world):
    lon, lat = next(iter(world.cases.values()))
    z, x, y = _tile(lon, lat, 15)
    import mapbox_vector_tile

    answer = client.get(f"/tiles/incidents/{z}/{x}/{y}.mvt", params={"start": SPAN["start"]})
    assert answer.status_code == 200
    found = {f["id"] for f in mapbox_vector_tile.decode(answer.content)["incidents"]["features"]}
    assert found and found <= set(world.cases)
    z, x, y = _tile(*world.other_spot, 15)
    for layer in ("incidents", "incident_density"):
        answer = client.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", params={"start": SPAN["start"]})
        assert answer.status_code == 204, (layer, answer.status_code)
    counted = 0
    lons, lats = zip(*world.cases.values(), strict=True)
    z = 9
    _, x0, y1 = _tile(min(lons), min(lats), z)
    _, x1, y0 = _tile(max(lons), max(lats), z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            answer = client.get(f"/tiles/incident_counts/{z}/{x}/{y}.mvt", params=SPAN)
            if answer.status_code == 200:
                features = mapbox_vector_tile.decode(answer.content)["incident_counts"]["features"]
                counted += sum(f["properties"]["count"] for f in features)
    assert counted == len(world.cases)


def dept_analyses(client, world):
    counts = client.get("/analysis/counts", params={"unit": "town", **SPAN}).json()
    assert sum(f["properties"]["count"] for f in counts["features"]) == len(world.cases)
    ranks = client.get("/analysis/rankings", params={"level": "department", **SPAN}).json()["rows"]
    assert [(r["code"], r["cases"]) for r in ranks] == [(WATER, len(world.cases))]
    towns = client.get("/analysis/rankings", params={"level": "town", **SPAN}).json()["rows"]
    assert {r["code"] for r in towns} == set(world.towns) and sum(r["cases"] for r in towns) == len(world.cases)
    wall = client.get("/wall/summary").json()
    assert {c["id"] for c in wall["red_cases"]["cases"]} <= set(world.cases)
    assert {f["id"] for f in wall["recent"]["features"]} <= set(world.cases)


def dept_county_maps(client, world):
    """The county's grids and boundaries are the department's to see, as its place."""
    grids = client.get("/features/collections/grids/items", params={"limit": 10000}).json()
    assert grids["numberMatched"] == world.grids
    me = client.get("/auth/me").json()["jurisdiction"]
    assert me["level"] == "county" and me["department"]["code"] == WATER
    assert client.get("/map/extent").json()["code"] == me["code"]


DEPARTMENT_PROBES = {
    "items by id": dept_by_id,
    "lists": dept_lists,
    "tiles": dept_tiles,
    "analyses": dept_analyses,
    "the county's maps": dept_county_maps,
}
