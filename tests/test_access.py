"""Who may see and change what: tokens, roles as data, jurisdiction in the SQL of every read,
personal data masked or put on record, the audit log, and the limits.

The jurisdiction matrix signs in as a dispatcher of one town and asks every kind of read for
another town's data: each answers nothing of it (404 for an item by id), and everything it does
answer lies in the user's town.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import mapbox_vector_tile
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo_service.auth.users import add_user, list_users, revoke_user
from geo_service.db.engine import get_engine
from geo_service.settings import Settings

from .conftest import scalar, signed_in

CLOSED_PAGE = {"limit": 1000}


@pytest.fixture(scope="module")
def towns(engine) -> tuple[str, str]:
    """Two towns of the demo with incidents: the user's own and another."""
    with engine.connect() as connection:
        return tuple(
            connection.execute(
                text("SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")
            ).scalars()
        )


@pytest.fixture(scope="module")
def mine(demo_url, towns):
    with signed_in(demo_url, "dispatcher", towns[0]) as client:
        yield client


@pytest.fixture(scope="module")
def theirs(engine, towns) -> dict:
    """Things of the other town: an incident, a grid, a point inside a grid, a camera."""
    with engine.connect() as connection:
        incident = connection.execute(
            text("SELECT id FROM incidents WHERE town_code = :t ORDER BY id LIMIT 1"), {"t": towns[1]}
        ).scalar()
        grid, lon, lat = connection.execute(
            text("""
            SELECT g.code, ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
              FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
             WHERE t.code = :t AND g.level = 1 ORDER BY g.code LIMIT 1"""),
            {"t": towns[1]},
        ).one()
    return {"incident": incident, "grid": grid, "lon": lon, "lat": lat}


def _town_of_grid(engine, code: str) -> str:
    return scalar(
        engine,
        """SELECT t.code FROM grids g JOIN admin_units v ON v.id = g.village_id
                              JOIN admin_units t ON t.id = v.parent_id WHERE g.code = :c LIMIT 1""",
        c=code,
    )


# -- tokens ------------------------------------------------------------------------------------------

PROTECTED = [
    "/locate?lon=104.1&lat=30.0",
    "/incidents",
    "/incidents/1",
    "/sla",
    "/boundaries/versions",
    "/features/collections",
    "/features/collections/grids/items",
    "/tiles/grids/13/6565/3398.mvt",
    "/analysis/counts",
    "/audit",
    "/auth/me",
    "/map/convert?lon=104&lat=30&from=wgs84&to=gcj02",
    "/tiles",
    "/tiles/style.json",
    "/tiles/grids.json",
]
PUBLIC = ["/healthz", "/docs", "/openapi.json", "/", "/features/", "/features/conformance", "/map/config.json"]


@pytest.mark.parametrize("path", PROTECTED)
def test_nothing_answers_without_a_valid_token(demo_url, path):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(Settings(database_url=demo_url))) as anonymous:
        for headers in ({}, {"Authorization": "Bearer gs_not-a-token"}, {"Authorization": "Basic YWRtaW46YWRtaW4="}):
            answer = anonymous.get(path, headers=headers)
            assert answer.status_code == 401, (path, headers, answer.text)
            # Basic is offered back only to a request that tried it (never to a page's fetch).
            tried = headers.get("Authorization", "").split(" ")[0] or "Bearer"
            assert answer.headers["www-authenticate"].startswith("Basic" if tried == "Basic" else "Bearer")


@pytest.mark.parametrize("path", PUBLIC)
def test_the_public_documents_answer_without_one(demo_url, path):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(Settings(database_url=demo_url))) as anonymous:
        assert anonymous.get(path).status_code == 200


def test_a_token_is_stored_hashed_and_stops_working_when_revoked(demo_copy_url):
    engine = get_engine(demo_copy_url)
    settings = Settings(database_url=demo_copy_url)
    user, token = add_user(engine, "revoked-soon", "analyst", "511421000000", settings=settings)
    assert scalar(engine, "SELECT count(*) FROM users WHERE token_hash = :t", t=token) == 0  # not in clear
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        assert client.get("/auth/me").json()["role"] == "analyst"
        revoke_user(engine, "revoked-soon")
        assert client.get("/auth/me").status_code == 401
    assert "revoked-soon" not in [u.name for u in list_users(engine)]
    assert scalar(
        engine,
        "SELECT array_agg(action ORDER BY id) FROM audit_log WHERE entity = 'user' AND entity_id = 'revoked-soon'",
    ) == ["user.add", "user.revoke"]


@pytest.mark.parametrize(
    "role, jurisdiction, field",
    [
        ("sheriff", "511421000000", "role"),
        ("analyst", "511421999000", "jurisdiction"),
        ("analyst", "12", "jurisdiction"),
    ],
)
def test_users_need_a_known_role_and_jurisdiction(engine, settings, role, jurisdiction, field):
    from geo_service.errors import InvalidInput

    with pytest.raises(InvalidInput) as caught:
        add_user(engine, f"bad-{role}-{jurisdiction}", role, jurisdiction, settings=settings)
    assert caught.value.field == field


# -- roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, method, path, status",
    [
        ("analyst", "GET", "/incidents", 403),
        ("analyst", "GET", "/analysis/counts?unit=town", 200),
        ("analyst", "GET", "/locate?lon=104.1&lat=30.0", 403),
        ("planner", "POST", "/incidents/1/accept", 403),
        ("planner", "GET", "/boundaries/versions/1/checks", 200),
        ("dispatcher", "POST", "/boundaries/versions/1/retire", 403),
        ("dispatcher", "GET", "/audit", 403),
        ("leader", "GET", "/audit", 403),  # a town leader: the audit log is for the whole county
        ("grid_worker", "GET", "/analysis/counts", 403),
        ("admin", "GET", "/audit", 200),
    ],
)
def test_roles_and_their_permissions_are_data(demo_url, towns, role, method, path, status):
    jurisdiction = towns[0] if role == "leader" else None
    with signed_in(demo_url, role, jurisdiction) as client:
        answer = client.request(method, path, json={} if method == "POST" else None)
    assert answer.status_code == status, answer.text
    if status == 403:
        assert answer.json()["field"] in ("permission", "jurisdiction")


def test_a_permission_granted_in_the_table_takes_effect(demo_copy_url):
    engine = get_engine(demo_copy_url)
    with signed_in(demo_copy_url, "analyst") as client:
        assert client.get("/incidents").status_code == 403
        with engine.begin() as connection:
            connection.execute(
                text("INSERT INTO role_permissions (role, permission) VALUES ('analyst', 'incidents.read')")
            )
        assert client.get("/incidents").status_code == 200


# -- the jurisdiction matrix ---------------------------------------------------------------------------


def test_items_of_another_town_by_id_are_not_found(mine, theirs):
    calls = [
        ("GET", f"/incidents/{theirs['incident']}", None),
        ("GET", f"/incidents/{theirs['incident']}/duplicates", None),
        ("POST", f"/incidents/{theirs['incident']}/urge", {"note": "x"}),
        ("GET", f"/features/collections/incidents/items/{theirs['incident']}", None),
        ("GET", f"/features/collections/grids/items/{theirs['grid']}", None),
        ("GET", f"/features/collections/grids-v1/items/{theirs['grid']}", None),
        ("GET", f"/locate?lon={theirs['lon']}&lat={theirs['lat']}", None),
    ]
    for method, path, body in calls:
        answer = mine.request(method, path, json=body)
        assert answer.status_code == 404, (path, answer.status_code, answer.text)


def test_lists_and_pages_hold_only_the_users_town(mine, engine, towns):
    own = towns[0]
    incidents = mine.get("/incidents", params={"limit": 1000}).json()
    assert incidents["total"] == scalar(engine, "SELECT count(*) FROM incidents WHERE town_code = :t", t=own) > 0
    assert {i["town"]["code"] for i in incidents["items"]} == {own}
    assert mine.get("/incidents", params={"town": towns[1]}).json()["total"] == 0
    sla = mine.get("/sla", params={"cases": "true", "at": "2026-11-10T00:00:00"}).json()
    assert sla["villages"] and {v["town_code"] for v in sla["villages"]} == {own}
    assert {c["town_code"] for c in sla["cases"]} == {own}
    features = mine.get("/features/collections/incidents/items", params={"limit": 10000}).json()
    assert {f["properties"]["town_code"] for f in features["features"]} == {own}
    grids = mine.get("/features/collections/grids/items", params={"limit": 10000}).json()
    assert grids["numberMatched"] > 0 and {_town_of_grid(engine, f["id"]) for f in grids["features"]} == {own}
    units = mine.get("/features/collections/admin_units/items", params={"limit": 10000}).json()
    assert {f["properties"]["level"] for f in units["features"]} == {"town", "village"}
    assert {
        f["id"] if f["properties"]["level"] == "town" else f["properties"]["parent_code"] for f in units["features"]
    } == {own}
    cameras = mine.get("/features/collections/cameras/items", params={"limit": 10000}).json()
    outside = scalar(
        engine,
        """
        SELECT count(*) FROM cameras c WHERE c.device_code = ANY(:codes) AND NOT ST_Covers(
               (SELECT geom FROM admin_units WHERE version_id = 1 AND code = :t), c.geom)""",
        codes=[f["id"] for f in cameras["features"]],
        t=own,
    )
    assert cameras["numberMatched"] > 0 and outside == 0


def test_a_lookup_in_the_users_town_lists_only_its_cameras(mine, engine, towns):
    lon, lat = scalar(
        engine,
        "SELECT array[ST_X(geom), ST_Y(geom)] FROM cameras c WHERE ST_Covers("
        "(SELECT geom FROM admin_units WHERE version_id = 1 AND code = :t), c.geom) "
        "ORDER BY device_code LIMIT 1",
        t=towns[0],
    )
    answer = mine.get("/locate", params={"lon": lon, "lat": lat, "camera_radius_m": 2000}).json()
    assert answer["town"]["code"] == towns[0] and answer["cameras"]
    inside = scalar(
        engine,
        """SELECT bool_and(ST_Covers((SELECT geom FROM admin_units WHERE version_id = 1 AND code = :t),
                                                          c.geom)) FROM cameras c WHERE c.device_code = ANY(:codes)""",
        t=towns[0],
        codes=[c["device_code"] for c in answer["cameras"]],
    )
    assert inside


def test_tiles_hold_only_the_users_town(mine, engine, towns, theirs):
    import math

    def tile_of(lon, lat, z):
        n = 1 << z
        return z, int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    z, x, y = tile_of(theirs["lon"], theirs["lat"], 13)
    for layer in ("grids", "incidents", "cameras", "incident_counts"):
        answer = mine.get(
            f"/tiles/{layer}/{z}/{x}/{y}.mvt", params={"start": "2025-11-17"} if "incident" in layer else {}
        )
        assert answer.status_code in (200, 204), answer.text
        if answer.status_code == 200:
            decoded = mapbox_vector_tile.decode(answer.content)
            props = [f["properties"] for f in decoded[layer]["features"]]
            if layer == "grids":
                assert all(_town_of_grid(engine, p["code"]) == towns[0] for p in props)
            if layer == "incidents":
                assert all(p.get("town_code", towns[0]) == towns[0] for p in props)
            if layer == "incident_counts":
                assert all(_town_of_grid(engine, p["code"]) == towns[0] for p in props)
    grid_tile = mine.get(f"/tiles/grids/{z}/{x}/{y}.mvt")
    with signed_in(mine.app.state.settings.database.url) as admin:
        everything = admin.get(f"/tiles/grids/{z}/{x}/{y}.mvt")
    assert everything.status_code == 200 and everything.headers["etag"] != grid_tile.headers.get("etag")


def test_analyses_cover_only_the_users_town(mine, towns):
    counts = mine.get("/analysis/counts", params={"unit": "town"}).json()
    assert [f["properties"]["code"] for f in counts["features"]] == [towns[0]]
    hot = mine.get("/analysis/hotspots", params={"unit": "village"}).json()
    assert hot["features"] and all(f["properties"]["code"][:9] == towns[0][:9] for f in hot["features"])
    ranks = mine.get("/analysis/rankings", params={"level": "town"}).json()
    assert [r["code"] for r in ranks["rows"]] == [towns[0]]


def test_county_wide_work_is_refused_to_a_town_user(mine):
    for method, path in (
        ("GET", "/boundaries/versions/1/checks"),
        ("GET", "/boundaries/versions/1/export"),
        ("GET", "/boundaries/versions/1/impact"),
    ):
        answer = mine.request(method, path)
        assert answer.status_code == 403 and answer.json()["field"] in ("jurisdiction", "permission"), path


def test_a_town_users_batch_lookup_names_nothing_of_another_town(mine, theirs, engine, towns):
    with engine.connect() as connection:
        lon, lat = connection.execute(
            text("""SELECT ST_X(ST_PointOnSurface(g.geom)), ST_Y(ST_PointOnSurface(g.geom))
                      FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
                     WHERE t.code = :t AND g.level = 1 ORDER BY g.code LIMIT 1"""),
            {"t": towns[0]},
        ).one()
    points = [{"lon": lon, "lat": lat}, {"lon": theirs["lon"], "lat": theirs["lat"]}]
    answer = mine.post("/assign", json={"points": points})
    assert answer.status_code == 200, answer.text
    own, other = answer.json()["results"]
    assert own["status"] == "assigned" and own["town_code"] == towns[0]
    assert other["status"] == "error" and "jurisdiction" in other["error"]
    assert other["grid_code"] is None and other["town_code"] is None and other["village_name"] is None


def test_a_town_user_cannot_record_an_incident_in_another_town(mine, engine, theirs):
    before = scalar(engine, "SELECT count(*) FROM incidents")
    answer = mine.post(
        "/incidents",
        json={
            "external_id": "OTHER-TOWN-1",
            "lon": theirs["lon"],
            "lat": theirs["lat"],
            "category": "dispute",
            "source": "hotline_12345",
            "reported_at": "2026-11-10T09:00:00+08:00",
        },
    )
    assert answer.status_code == 403 and "outside your jurisdiction" in answer.json()["message"]
    assert scalar(engine, "SELECT count(*) FROM incidents") == before


def test_a_grid_worker_sees_their_grid_only(demo_url, engine):
    grid = scalar(engine, "SELECT left(grid_code, 15) FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    with signed_in(demo_url, "grid_worker", grid) as worker:
        page = worker.get("/incidents", params={"limit": 1000}).json()
    assert page["total"] == scalar(engine, "SELECT count(*) FROM incidents WHERE grid_code LIKE :g", g=grid + "%")
    assert all(i["grid"]["code"].startswith(grid) for i in page["items"])


# -- personal data ---------------------------------------------------------------------------------------


def test_personal_data_is_masked_without_the_permission_and_on_record_with_it(demo_url, engine, towns):
    incident = scalar(
        engine,
        "SELECT id FROM incidents WHERE town_code = :t AND reporter_phone IS NOT NULL ORDER BY id LIMIT 1",
        t=towns[0],
    )
    phone, name = scalar(engine, "SELECT array[reporter_phone, reporter_name] FROM incidents WHERE id = :i", i=incident)
    with signed_in(demo_url, "leader", towns[0]) as leader:
        seen = leader.get(f"/incidents/{incident}").json()
        lookup = leader.get("/locate", params={"lon": seen["location"]["lon"], "lat": seen["location"]["lat"]}).json()
        leader_name = leader.get("/auth/me").json()["name"]
    assert seen["reporter"]["phone"] == phone[:3] + "*" * (len(phone) - 7) + phone[-4:] != phone
    assert seen["reporter"]["name"][0] == name[0] and "*" in seen["reporter"]["name"]
    assert all("*" in o["phone"] for o in seen["officers"] + lookup["officers"] if o.get("phone"))
    assert (
        scalar(engine, "SELECT count(*) FROM audit_log WHERE actor = :a AND action = 'read_personal'", a=leader_name)
        == 0
    )
    with signed_in(demo_url, "dispatcher", towns[0]) as dispatcher:
        clear = dispatcher.get(f"/incidents/{incident}").json()
        who = dispatcher.get("/auth/me").json()["name"]
    assert clear["reporter"] == {"name": name, "phone": phone}
    assert (
        scalar(
            engine,
            "SELECT count(*) FROM audit_log WHERE actor = :a AND action = 'read_personal' "
            "AND entity = 'incident' AND entity_id = :i",
            a=who,
            i=str(incident),
        )
        == 1
    )


def test_a_lookup_shows_the_officers_phones_to_a_dispatcher_and_puts_the_read_on_record(demo_url, engine, towns):
    """The entry is committed with the answer (another connection sees it at once) and names
    whose phones were shown, never the phones."""
    lon, lat = scalar(
        engine,
        "SELECT array[ST_X(geom), ST_Y(geom)] FROM incidents WHERE town_code = :t AND grid_code IS NOT NULL "
        "ORDER BY id LIMIT 1",
        t=towns[0],
    )
    with signed_in(demo_url, "dispatcher", towns[0]) as dispatcher:
        who = dispatcher.get("/auth/me").json()["name"]
        before = scalar(engine, "SELECT count(*) FROM audit_log WHERE actor = :a", a=who)
        lookup = dispatcher.get("/locate", params={"lon": lon, "lat": lat}).json()
        with engine.connect() as connection:
            entries = connection.execute(
                text("SELECT action, entity, entity_id, after FROM audit_log WHERE actor = :a ORDER BY id"), {"a": who}
            ).all()[before:]
        entries = [tuple(row) for row in entries]
    shown = [o for o in lookup["officers"] + [o for t in lookup["escalation"] for o in t["officers"]] if o["phone"]]
    assert shown and not any("*" in o["phone"] for o in shown)
    assert entries == [
        ("read_personal", "grid", lookup["grid"]["code"], {"officers": sorted({o["officer_code"] for o in shown})})
    ]
    assert not any(o["phone"] in json.dumps(entries) for o in shown)


# -- the audit log --------------------------------------------------------------------------------------


def test_the_audit_log_is_append_only_and_readable(demo_copy_url):
    engine = get_engine(demo_copy_url)
    with signed_in(demo_copy_url, "dispatcher") as dispatcher:
        case = dispatcher.post(
            "/incidents",
            json={
                "external_id": "AUDIT-1",
                "lon": 104.1,
                "lat": 30.0,
                "category": "dispute",
                "source": "hotline_12345",
                "reported_at": "2026-11-10T09:00:00+08:00",
            },
        ).json()
        dispatcher.post(f"/incidents/{case['id']}/accept", json={"actor": "网格员甲"})
        who = dispatcher.get("/auth/me").json()["name"]
    with signed_in(demo_copy_url) as admin:
        entries = admin.get("/audit", params={"entity": "incident", "entity_id": str(case["id"])}).json()
    actions = [(e["actor"], e["action"]) for e in reversed(entries["entries"])]
    assert (who, "create") in actions and (who, "accept") in actions  # the signed-in user, not the name typed
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only|permission denied"), engine.begin() as connection:
            connection.execute(text(statement))
    assert scalar(engine, "SELECT count(*) FROM audit_log WHERE actor = :a", a=who) >= 2


# -- limits ---------------------------------------------------------------------------------------------


def test_oversized_bodies_are_refused_with_413(demo_url):
    with signed_in(demo_url, max_body_bytes=10_000) as client:
        big = {"points": [{"lon": 104.1, "lat": 30.0}] * 2000}
        answer = client.post("/assign", json=big)
        assert answer.status_code == 413 and answer.json()["field"] == "body"

        def chunks():
            for _ in range(20):
                yield b" " * 1000

        streamed = client.post("/incidents", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413


def test_expensive_endpoints_are_rate_limited_with_429(demo_url):
    with signed_in(demo_url, "analyst", expensive_per_minute=2) as client:
        codes = [client.get("/analysis/counts", params={"unit": "town"}).status_code for _ in range(3)]
        refused = client.get("/analysis/counts", params={"unit": "town"})
        assert client.get("/boundaries/versions").status_code == 200  # cheap reads are not counted
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


# -- OpenID Connect -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def identity_provider(tmp_path_factory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwks = tmp_path_factory.mktemp("idp") / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "county-1", "use": "sig", "alg": "RS256"}]}))
    return key, str(jwks)


def _id_token(key, **claims) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": "https://idp.county.intranet",
        "aud": "geo_service",
        "sub": "u-42",
        "preferred_username": "王五",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        "geo_service_role": "dispatcher",
        "geo_service_jurisdiction": "511421000000",
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "county-1"})


def test_tokens_from_the_countys_identity_provider(demo_url, identity_provider):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    key, jwks = identity_provider
    settings = Settings(
        database_url=demo_url, oidc_jwks=jwks, oidc_issuer="https://idp.county.intranet", oidc_audience="geo_service"
    )
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with TestClient(create_app(settings)) as client:

        def me(token):
            return client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})

        good = me(_id_token(key))
        assert good.status_code == 200 and good.json() | {"permissions": None} == {
            "name": "王五",
            "role": "dispatcher",
            "permissions": None,
            "via": "oidc",
            "jurisdiction": good.json()["jurisdiction"],
        }
        past = datetime.now(UTC) - timedelta(hours=1)
        for bad in (
            _id_token(key, exp=past),
            _id_token(key, aud="another-app"),
            _id_token(key, iss="https://evil"),
            _id_token(other_key),
            _id_token(key, geo_service_role="sheriff"),
            _id_token(key, geo_service_jurisdiction="511421999000"),
        ):
            assert me(bad).status_code in (401, 403)


def test_the_cli_manages_users(demo_copy_url):
    import subprocess
    import sys

    env = {"DATABASE_URL": demo_copy_url, "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "geo_service.cli.main"]

    def cli(*args):
        return subprocess.run([*run, *args], capture_output=True, text=True, env=env, timeout=60)

    added = cli("users", "add", "张三", "--role", "planner", "--jurisdiction", "511421000000")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("gs_")
    assert "张三" in cli("users", "list").stdout
    assert cli("users", "revoke", "张三").returncode == 0
    assert "user.revoke" in cli("audit", "--json", "--entity", "user").stdout
    missing = cli("users", "revoke", "nobody")
    assert missing.returncode == 2 and "no active user" in missing.stderr
