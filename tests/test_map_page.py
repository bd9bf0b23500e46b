"""The dispatcher's map page at /map in headless Chromium, served for real on loopback.

Asserts what a dispatcher relies on: the page asks for a token before it shows anything, it loads
with no request leaving the machine and under a Content-Security-Policy that nothing on it
breaks, the grids are drawn (only those of the user's jurisdiction), a click answers with the
lookup for that spot, and the search box flies to coordinates in any datum or to an incident.
It speaks Chinese unless its reader switches to English, every word from the catalogue, and shows
times in the county's time. Screenshots are kept in var/test-artifacts/.
"""

from __future__ import annotations

import re
import struct
import threading
import zlib
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest

from geo_service.auth.users import revoke_user
from geo_service.i18n import ui
from geo_service.lookup.locate import locate
from geo_service.settings import PROJECT_ROOT
from geo_service.tiles.layers import LayerError, parse_layer

from . import browser as shared
from .browser import ARTIFACTS, LANG_KEY, TOKEN_KEY, needs_chromium
from .conftest import live_server, token_for

# The shared browser fixtures (pytest finds fixtures by their names in the module).
browser, new_page = shared.browser, shared.new_page

pytestmark = needs_chromium
MAP_LEFT = 340  # the panel's width: the map starts there
ZH, EN = ui("zh"), ui("en")  # the pages' words, as the page is served them
IN_FORCE = """(SELECT id FROM boundary_versions WHERE status = 'published' AND effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1)"""


@pytest.fixture(scope="module")
def server(demo_url):
    with live_server(demo_url) as url:
        yield url


@pytest.fixture(scope="module")
def admin_token(demo_url) -> str:
    return token_for(demo_url)


@pytest.fixture
def page(new_page, admin_token):
    """A page signed in as an administrator over the whole county."""
    return new_page(admin_token)


def open_map(page, server: str, hash_: str = "#13/30.0/104.1") -> None:
    page.goto(f"{server}/map{hash_}")
    wait_for_map(page)


# (Waits are given as functions: the page's policy forbids evaluating strings, which Playwright
# would do for a bare expression.)
def wait_for_map(page) -> None:
    page.wait_for_function("() => window.geoMapReady === true", timeout=60_000)
    page.wait_for_function("() => window.geoMap.areTilesLoaded() && !window.geoMap.isMoving()", timeout=60_000)


def rendered(page, source: str) -> list[dict]:
    return page.evaluate(
        """(source) => window.geoMap.queryRenderedFeatures({
        layers: window.geoMap.getStyle().layers.filter(l => l.source === source).map(l => l.id)
    }).map(f => ({id: f.id, properties: f.properties}))""",
        source,
    )


def layer_list(page) -> list[str]:
    return [name.strip() for name in page.locator("#layers label").all_inner_texts()]


def sign_in_shown(page) -> bool:
    return page.locator("#signin").is_visible()


def tile_requests(page) -> list:
    return [r for r in page.requests if "/tiles/" in r.url]


def test_the_page_loads_from_the_service_alone_and_draws_the_grids(page, server, engine):
    open_map(page, server)
    hosts = {urlparse(r.url).netloc for r in page.requests if not r.url.startswith(("data:", "blob:"))}
    assert hosts == {urlparse(server).netloc}
    assert any("/map/vendor/maplibre-gl/" in r.url for r in page.requests)
    assert any(".mvt" in r.url for r in page.requests)
    grids = rendered(page, "grids")
    codes = {g["properties"]["code"] for g in grids}
    known = {c for (c,) in engine.connect().exec_driver_sql(f"SELECT code FROM grids WHERE version_id = {IN_FORCE}")}
    assert len(codes) > 20 and codes <= known
    assert "事件" in layer_list(page)  # an administrator sees every layer, named in Chinese
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "map_page.png"))
    assert len(shot) > 10_000


def test_without_a_token_the_page_asks_to_sign_in_and_loads_nothing_of_the_county(new_page, server):
    page = new_page()
    page.goto(f"{server}/map#13/30.0/104.1")
    page.wait_for_selector("#signin", state="visible")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#signin-title") == ZH["common.signin.title"] == "登录"
    assert page.evaluate("window.geoMap ?? null") is None
    asked = {urlparse(r.url).path for r in page.requests}
    assert not any(path.startswith(("/tiles", "/locate", "/incidents", "/analysis", "/map/extent")) for path in asked)
    assert tile_requests(page) == []
    assert page.locator("#who").is_hidden()
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_signin.png"))


def test_a_wrong_token_shows_the_sign_in_again_with_the_reason(new_page, server):
    # The reason is the service's own, in the reader's language (Chinese unless asked otherwise).
    refusal = httpx.get(f"{server}/auth/me", headers={"Authorization": "Bearer gs_x", "Accept-Language": "zh-CN"})
    reason = refusal.json()["message"]
    assert refusal.status_code == 401 and reason
    page = new_page()
    page.goto(f"{server}/map")
    page.fill("#signin-token", "gs_not-a-token-of-this-service")
    page.click("#signin button[type=submit]")
    page.wait_for_function("(r) => document.getElementById('signin-error')?.textContent === r", arg=reason)
    assert page.inner_text("#signin-error") == reason
    assert sign_in_shown(page) and page.locator("#who").is_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

    # A wrong token kept from an earlier visit is refused the same way.
    stale = new_page("gs_stale-token")
    stale.goto(f"{server}/map")
    stale.wait_for_function("(r) => document.getElementById('signin-error')?.textContent === r", arg=reason)
    assert stale.inner_text("#signin-error") == reason and sign_in_shown(stale)
    assert stale.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None  # and forgotten
    stale.wait_for_load_state("networkidle")
    assert tile_requests(stale) == [] and tile_requests(page) == []


def test_signing_in_shows_who_sends_the_token_everywhere_and_signing_out_forgets_it(new_page, server, demo_url, engine):
    town_code, town_name = (
        engine.connect()
        .exec_driver_sql(
            f"SELECT code, name FROM admin_units WHERE level = 'town' AND version_id = {IN_FORCE} ORDER BY code LIMIT 1"
        )
        .one()
    )
    token = token_for(demo_url, "dispatcher", town_code, name="Wang Fang (dispatcher)")
    role_name = engine.connect().exec_driver_sql("SELECT name_zh FROM access_roles WHERE code = 'dispatcher'").scalar()
    page = new_page()
    page.goto(f"{server}/map")
    page.fill("#signin-token", token)
    page.click("#signin button[type=submit]")
    wait_for_map(page)
    assert not sign_in_shown(page)
    assert page.inner_text("#who-name") == "Wang Fang (dispatcher)"
    assert page.inner_text("#who-role") == role_name  # the role by its name, not its code
    assert town_name in page.inner_text("#who-jurisdiction")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == token

    # Every request to the service but the page's own files and words carries the token: the
    # style, the tiles (fetched by MapLibre's workers), the page's own calls.
    page.mouse.click(MAP_LEFT + 470, 400)
    page.wait_for_selector("#lookup h2, #lookup .error", timeout=20_000)
    api_calls = [
        r
        for r in page.requests
        if not urlparse(r.url).path.startswith(("/static/", "/map/vendor", "/i18n/"))
        and urlparse(r.url).path != "/map"
        and not r.url.startswith(("data:", "blob:"))
    ]
    paths = {urlparse(r.url).path for r in api_calls}
    assert {"/auth/me", "/map/config.json", "/map/extent", "/tiles/style.json", "/locate"} <= paths
    assert any(p.endswith(".mvt") for p in paths)
    assert {r.url: r.all_headers().get("authorization") for r in api_calls} == {
        r.url: f"Bearer {token}" for r in api_calls
    }

    page.click("#sign-out")
    page.wait_for_selector("#signin", state="visible")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    assert page.evaluate("window.geoMap ?? null") is None and page.locator("#who").is_hidden()
    page.reload()
    page.wait_for_selector("#signin", state="visible")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.geoMap ?? null") is None


def test_a_token_not_remembered_is_asked_for_again_after_a_reload(new_page, server, admin_token):
    page = new_page()
    page.goto(f"{server}/map#12/30.0/104.1")
    page.fill("#signin-token", admin_token)
    page.uncheck("#signin-remember")
    page.click("#signin button[type=submit]")
    wait_for_map(page)
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None
    page.reload()
    page.wait_for_selector("#signin", state="visible")
    assert page.inner_text("#signin-error") == ""


def test_a_token_revoked_while_the_page_is_open_brings_back_the_sign_in(new_page, server, demo_url, engine):
    token = token_for(demo_url, "dispatcher", name="Li Lei (to be revoked)")
    page = new_page(token)
    open_map(page, server, "#12/30.0/104.1")
    revoke_user(engine, "Li Lei (to be revoked)", actor="tests")
    page.fill("#search-text", "104.07, 30.00")
    page.click("#search button")
    page.wait_for_selector("#signin", state="visible", timeout=20_000)
    assert page.inner_text("#signin-error") == ZH["common.signin.expired"]  # 您的登录已失效，请重新登录。
    assert page.evaluate("window.geoMap ?? null") is None
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None


def test_a_town_user_sees_their_town_and_nothing_of_another(new_page, server, demo_url, engine):
    # A town in the middle of the county, so that neighbours surround it on the screen.
    town_code, town_name = (
        engine.connect()
        .exec_driver_sql(f"""
        SELECT t.code, t.name FROM admin_units t, admin_units c
         WHERE t.level = 'town' AND c.level = 'county' AND t.version_id = {IN_FORCE} AND c.version_id = t.version_id
         ORDER BY ST_Distance(ST_PointOnSurface(t.geom), ST_Centroid(c.geom)) LIMIT 1""")
        .one()
    )
    token = token_for(demo_url, "dispatcher", town_code)
    page = new_page(token)
    page.goto(f"{server}/map")  # no position in the address: the map fits the user's town
    wait_for_map(page)
    west, south, east, north = page.evaluate("window.geoMap.getBounds().toArray().flat()")
    town_box = (
        engine.connect()
        .exec_driver_sql(
            f"SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM admin_units "
            f"WHERE code = '{town_code}' AND version_id = {IN_FORCE}"
        )
        .one()
    )
    assert west <= town_box[0] and east >= town_box[2] and south <= town_box[1] and north >= town_box[3]
    assert page.evaluate("window.geoMap.getZoom()") >= 11  # closer than the county's view: the grids are drawn

    with engine.connect() as connection:
        ours = {
            c
            for (c,) in connection.exec_driver_sql(f"""
            SELECT g.code FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
             WHERE g.version_id = {IN_FORCE} AND t.code = '{town_code}'""")
        }
        on_screen_elsewhere = {
            c
            for (c,) in connection.exec_driver_sql(f"""
            SELECT g.code FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
             WHERE g.version_id = {IN_FORCE} AND t.code <> '{town_code}'
               AND ST_Intersects(g.geom, ST_MakeEnvelope({west}, {south}, {east}, {north}, 4490))""")
        }
    assert on_screen_elsewhere, "the view should take in neighbouring towns' grids for this test to mean anything"
    drawn = {g["properties"]["code"] for g in rendered(page, "grids")}
    assert len(drawn) > 10
    assert drawn <= ours
    assert not drawn & on_screen_elsewhere
    assert {t["properties"]["code"] for t in rendered(page, "towns")} == {town_code}
    assert town_name in page.inner_text("#who-jurisdiction")
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_town.png"))


def test_the_next_user_of_the_same_browser_sees_nothing_kept_from_the_last(
    new_page, server, demo_url, engine, admin_token
):
    # A dispatch room's shared computer: an administrator signs out, a town's dispatcher signs in
    # and looks at the very tiles the administrator had loaded (the browser's cache must not answer).
    town_code, lon, lat = (
        engine.connect()
        .exec_driver_sql(f"""
        SELECT t.code, ST_X(ST_PointOnSurface(t.geom)), ST_Y(ST_PointOnSurface(t.geom))
          FROM admin_units t WHERE t.level = 'town' AND t.version_id = {IN_FORCE} ORDER BY t.code LIMIT 1 OFFSET 7""")
        .one()
    )
    where = f"#12/{lat:.5f}/{lon:.5f}"
    page = new_page()
    page.goto(f"{server}/map{where}")
    page.fill("#signin-token", admin_token)
    page.click("#signin button[type=submit]")
    wait_for_map(page)
    seen_by_admin = {g["properties"]["code"] for g in rendered(page, "grids")}
    page.click("#sign-out")
    page.fill("#signin-token", token_for(demo_url, "dispatcher", town_code))
    page.click("#signin button[type=submit]")
    wait_for_map(page)
    page.evaluate(f"location.hash = '{where}'")
    page.wait_for_function("() => Math.round(window.geoMap.getZoom()) === 12")
    wait_for_map(page)
    seen_by_town = {g["properties"]["code"] for g in rendered(page, "grids")}
    ours = {
        c
        for (c,) in engine.connect().exec_driver_sql(f"""
        SELECT g.code FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
         WHERE g.version_id = {IN_FORCE} AND t.code = '{town_code}'""")
    }
    assert seen_by_admin - ours, "the administrator's view should hold other towns' grids"
    assert seen_by_town and seen_by_town <= ours


def test_layers_the_role_may_not_see_leave_the_layer_list(new_page, server, demo_url):
    planner = new_page(token_for(demo_url, "planner"))  # boundaries, cameras, analyses; no incidents
    open_map(planner, server, "#14/30.0/104.1")
    planner.wait_for_function(
        "() => !window.geoMap.getStyle().layers.some(l => l.source === 'incidents')", timeout=20_000
    )
    listed = layer_list(planner)
    assert "网格" in listed and "视频监控" in listed  # grids and cameras
    assert "事件" not in listed
    incidents = [r for r in tile_requests(planner) if "/tiles/incidents/" in r.url]
    assert all(r.response() is None or r.response().status == 403 for r in incidents)
    assert rendered(planner, "grids")  # the rest of the map is drawn
    assert planner.errors == []


def test_the_page_runs_under_a_policy_allowing_only_its_own_origin(page, server, engine):
    open_map(page, server, "#15/30.0/104.1")
    page.mouse.click(MAP_LEFT + 420, 380)
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    page.fill("#search-text", "104.0712, 30.0031")
    page.select_option("#search-datum", "gcj02")
    page.click("#search button")
    page.wait_for_function(
        "(words) => document.getElementById('lookup').textContent.includes(words)", arg=ZH["map.lookup.where"]
    )
    page.wait_for_function("() => window.geoMap.areTilesLoaded() && !window.geoMap.isMoving()", timeout=60_000)
    assert page.evaluate("window.cspViolations") == [] and page.csp_console == []

    # The page and its files are sent with the policy, and the browser enforces it: an inline
    # script (what an injected <script> would be) does not run, and is reported.
    pages_files = ("/map", "/static/common.js", "/static/map-lookup.js", "/static/map.js", "/static/map.css")
    for path in (*pages_files, "/i18n/zh.json", "/map/vendor/maplibre-gl/dist/maplibre-gl.js"):
        answer = next(r for r in page.requests if urlparse(r.url).path == path).response()
        headers = answer.all_headers()
        assert "default-src 'self'" in headers["content-security-policy"], path
        assert "script-src 'self';" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin", path
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.injected = 1';
                              document.body.appendChild(s); }""")
    page.wait_for_function("() => window.cspViolations.length > 0")
    assert page.evaluate("window.injected ?? null") is None
    assert page.evaluate("window.cspViolations")[0].startswith("script-src")
    assert page.errors == []


def png_tile(rgb: tuple[int, int, int] = (200, 220, 240), size: int = 256) -> bytes:
    """A plain-coloured PNG, as a raster basemap's server would send."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@contextmanager
def basemap_server():
    """A raster tile server on another loopback port (another origin); yields its URL and the
    headers of each request it got."""
    seen: list[dict] = []
    tile = png_tile()

    class Tiles(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(tile)))
            self.end_headers()
            self.wfile.write(tile)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Tiles)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        thread.join(10)


def test_a_basemap_server_is_let_through_the_policy_and_never_sees_the_token(
    new_page, demo_url, admin_token, monkeypatch
):
    with basemap_server() as (basemap, seen):
        monkeypatch.setenv("GEO_SERVICE_BASEMAP_URL", f"{basemap}/{{z}}/{{x}}/{{y}}.png")
        with live_server(demo_url) as server:
            page = new_page(admin_token)
            open_map(page, server, "#12/30.0/104.1")
            policy = next(r for r in page.requests if r.url == f"{server}/map").response().all_headers()
            assert f"img-src 'self' data: blob: {basemap};" in policy["content-security-policy"]
            assert f"connect-src 'self' {basemap};" in policy["content-security-policy"]
            assert len(seen) >= 4  # the basemap's tiles were fetched...
            assert not any("authorization" in headers for headers in seen)  # ...without the user's token
            assert any(
                ".mvt" in r.url and r.all_headers().get("authorization") == f"Bearer {admin_token}"
                for r in page.requests
            )
            assert page.evaluate("window.cspViolations") == [] and page.csp_console == []
            assert rendered(page, "grids") and page.errors == []


def test_the_page_files_are_public_and_what_it_asks_for_is_not(server, admin_token):
    with httpx.Client(base_url=server) as http:
        public = ("/map", "/static/map.js", "/static/map-lookup.js", "/map/config.json", "/i18n/zh.json")
        for path in (*public, "/map/vendor/maplibre-gl/dist/maplibre-gl.css"):
            answer = http.get(path)
            assert answer.status_code == 200, path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"], path
        point = {"lon": 104.07, "lat": 30.0, "from": "cgcs2000", "to": "gcj02"}
        features = {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [104.07, 30.0]}}
            ],
        }
        for answer in (
            http.get("/map/convert", params=point),
            http.post("/map/convert", params={"to": "gcj02"}, json=features),
            http.get("/map/extent"),
            http.get("/map/convert", params=point, headers={"Authorization": "Bearer gs_wrong"}),
        ):
            assert answer.status_code == 401, answer.request.url
            assert answer.headers["www-authenticate"].startswith("Bearer")
        signed = {"Authorization": f"Bearer {admin_token}"}
        moved = http.get("/map/convert", params=point, headers=signed)
        assert moved.status_code == 200 and moved.json()["lon"] != 104.07
        assert http.post("/map/convert", params={"to": "gcj02"}, json=features, headers=signed).status_code == 200
        county = http.get("/map/extent", headers=signed).json()
        assert county["whole"] is True and county["bbox"] is None


def test_a_click_shows_the_lookup_of_that_spot(page, server, engine, settings):
    open_map(page, server)
    x, y = MAP_LEFT + 420, 380
    page.mouse.click(x, y)
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    lon, lat = page.evaluate(
        f"(() => {{ const p = window.geoMap.unproject([{x - MAP_LEFT}, {y}]); return [p.lng, p.lat]; }})()"
    )
    expected = locate(engine, lon, lat, crs="wgs84", settings=settings).to_dict()
    assert page.inner_text("#lookup-grid") == expected["grid"]["code"]
    panel = page.inner_text("#lookup")
    assert expected["village"]["name"] in panel and expected["town"]["name"] in panel
    named = [o["name"] for o in expected["officers"] if not o["vacant"]]
    assert named and all(name in panel for name in named)
    assert page.locator(".maplibregl-popup").count() >= 1
    # In Chinese: the officers to call, by their roles' names.
    assert ZH["map.lookup.officers"] in panel and ZH["map.lookup.cameras"] in panel
    roles = {o["role"] for o in expected["officers"]}
    role_names = dict(engine.connect().exec_driver_sql("SELECT code, name_zh FROM roles").all())
    assert roles and all(role_names[role] in panel for role in roles)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_lookup.png"))


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000"])
def test_the_search_box_takes_coordinates_in_any_datum(page, server, engine, settings, crs):
    from geo_service.coordinates import datum

    open_map(page, server, "#10/30.0/104.1")
    lon, lat = (float(v) for v in datum.convert(104.0712, 30.0031, "cgcs2000", crs))
    page.fill("#search-text", f"{lon:.6f}, {lat:.6f}")
    page.select_option("#search-datum", crs)
    page.click("#search button")
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    expected = locate(engine, 104.0712, 30.0031, settings=settings).to_dict()["grid"]["code"]
    assert page.inner_text("#lookup-grid") == expected
    page.wait_for_function("() => !window.geoMap.isMoving()", timeout=20_000)
    centre = page.evaluate("(() => { const c = window.geoMap.getCenter(); return [c.lng, c.lat]; })()")
    assert centre == pytest.approx([104.0712, 30.0031], abs=2e-4)  # drawn in WGS84: within ~20 m


def test_the_search_box_flies_to_an_incident(page, server, engine):
    incident_id, lon, lat = (
        engine.connect()
        .exec_driver_sql("SELECT id, ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id LIMIT 1 OFFSET 1000")
        .one()
    )
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", f"#{incident_id}")
    page.click("#search button")
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    assert ZH["map.lookup.incident"].format(id=incident_id) in page.inner_text("#lookup")  # 事件 1234
    page.wait_for_function("() => !window.geoMap.isMoving()", timeout=20_000)
    centre = page.evaluate("(() => { const c = window.geoMap.getCenter(); return [c.lng, c.lat]; })()")
    assert centre == pytest.approx([lon, lat], abs=1e-5)


def test_bad_search_input_is_explained(page, server, admin_token):
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", "somewhere")
    page.click("#search button")
    assert page.inner_text("#search-error") == ZH["map.search.bad_input"]
    page.fill("#search-text", "#999999999")
    page.click("#search button")
    page.wait_for_function("() => document.getElementById('search-error').textContent.length > 0")
    # The service's own reason, in the reader's language.
    asked = {"Authorization": f"Bearer {admin_token}", "Accept-Language": "zh-CN"}
    answer = httpx.get(f"{server}/incidents/999999999", headers=asked)
    assert answer.status_code == 404
    assert page.inner_text("#search-error") == answer.json()["message"]
    assert "999999999" in page.inner_text("#search-error")


def test_the_hotspots_toggle_shows_only_when_the_service_has_hotspots(page, server, client):
    open_map(page, server, "#10/30.0/104.1")
    page.wait_for_load_state("networkidle")
    has_hotspots = client.head("/analysis/hotspots").status_code != 404
    assert page.locator("#hotspots-toggle").is_visible() is has_hotspots


@pytest.fixture(scope="module")
def imported_county(cluster, tmp_path_factory):
    """A database holding only Xianyou, loaded from its files by the county import."""
    import uuid

    from geo_service.county.load import crs_options, import_county
    from geo_service.db import migrate
    from geo_service.db.engine import dispose_engines, get_engine
    from geo_service.settings import Settings

    from .county_files import make_county, write_county_files

    county = make_county(PROJECT_ROOT / "boundaries" / "sources" / "350322.geojson", "350322", seed=7, incidents=300)
    manifest = write_county_files(county, tmp_path_factory.mktemp("xianyou_files"))
    name = f"geo_service_map_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    url = cluster.url(name)
    migrate.upgrade(url)
    default, by_file = crs_options(manifest.crs_options()[1::2])
    report = import_county(
        get_engine(url),
        [manifest.folder],
        settings=Settings(database_url=url),
        actor="tests",
        crs=default,
        crs_by_file=by_file,
        skip_bad_rows=True,
    )
    assert report.stored
    yield url, county
    dispose_engines()
    cluster.drop_database(name)


def test_a_county_loaded_from_its_files_is_drawn_on_the_map(new_page, imported_county):
    url, county = imported_county
    point = county.grids.geometry.iloc[0].representative_point()
    with live_server(url) as server:
        page = new_page(token_for(url))
        open_map(page, server, f"#13/{point.y:.5f}/{point.x:.5f}")
        codes = {g["properties"]["code"] for g in rendered(page, "grids")}
        assert codes and codes <= set(county.grids["code"])
        assert page.errors == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map_page_imported_county.png"))


# --- the page's language ---------------------------------------------------------------------------

# What the page wrote in English before it spoke Chinese: none of it may be left on the Chinese page.
OLD_ENGLISH = [
    "Search",
    "coordinates",
    "Incidents shown",
    "Categories",
    "Statuses",
    "Layers",
    "Hotspots",
    "Where is this",
    "Officers to call",
    "Cameras",
    "vacant",
    "sees it",
    "near",
    "none",
    "level",
    "boundaries",
    "drawn in",
    "basemap",
    "Sign in",
    "Sign out",
    "jurisdiction",
    "Apply",
    "From",
    "Click the map",
    "reported",
    "in_progress",
    "dispatched",
    "Incident",
    "Zoom in",
    "Zoom out",
]
# Latin letters a Chinese reader may see: names of systems and datums, the service's own name, and
# the language switch's way out of Chinese.
PROPER_NAMES = {"geo_service", "CGCS2000", "WGS84", "GPS", "GCJ-02", "BD-09", "MapLibre", "English"}
CATALOGUE_KEY = re.compile(r"\b(?:map|common|console|phone|wall)\.[a-z_]+\.[a-z0-9_]+")
# Everything on the page a reader sees: its text, the titles and placeholders of what is shown,
# the window's title.
VISIBLE_TEXT = """() => {
    const shown = (el) => el.getClientRects().length > 0;
    const attributes = [...document.querySelectorAll("[title], [placeholder], [aria-label]")].filter(shown)
        .flatMap((el) => ["title", "placeholder", "aria-label"].map((a) => el.getAttribute(a)).filter(Boolean));
    return [document.title, document.body.innerText, ...attributes].join("\\n");
}"""
# Where on the screen an incident of the tiles is drawn, and its id.
INCIDENT_ON_SCREEN = """() => {
    const map = window.geoMap;
    const layers = map.getStyle().layers.filter((l) => l.source === "incidents").map((l) => l.id);
    const box = map.getContainer().getBoundingClientRect();
    for (const f of map.queryRenderedFeatures({ layers })) {
        const p = map.project(f.geometry.coordinates);
        if (p.x > 40 && p.y > 40 && p.x < box.width - 80 && p.y < box.height - 80) {
            return { id: f.id, x: box.left + p.x, y: box.top + p.y };
        }
    }
    return null;
}"""


def latin_words(text: str) -> set[str]:
    return {word for word in re.findall(r"[A-Za-z][A-Za-z0-9_-]*", text) if word not in PROPER_NAMES}


def chinese_user(demo_url: str, role: str = "admin", jurisdiction: str | None = None) -> str:
    """A token of a user with a Chinese name (the name is shown on the page)."""
    import uuid

    return token_for(demo_url, role, jurisdiction, name=f"值班员{uuid.uuid4().int % 10**8}")


def recent_incident(engine) -> tuple[int, datetime]:
    """An incident inside the page's default span (the 30 days up to the latest)."""
    return (
        engine.connect()
        .exec_driver_sql("SELECT id, reported_at FROM incidents ORDER BY reported_at DESC, id LIMIT 1 OFFSET 40")
        .one()
    )


def test_the_chinese_page_shows_no_english_word_of_its_own(new_page, server, demo_url, engine):
    page = new_page(chinese_user(demo_url))
    incident_id, _ = recent_incident(engine)
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", f"#{incident_id}")
    page.click("#search button")  # the incident, then the lookup of its spot
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    wait_for_map(page)
    drawn = page.evaluate(INCIDENT_ON_SCREEN)
    assert drawn, "the incident searched for should be drawn"
    page.mouse.move(drawn["x"], drawn["y"])  # the tooltip of a point
    page.wait_for_selector(".maplibregl-popup table", timeout=10_000)
    # The page's own words, without the data it shows (the boundary version's name is an administrator's).
    version = engine.connect().exec_driver_sql(f"SELECT name FROM boundary_versions WHERE id = {IN_FORCE}").scalar()
    text = page.evaluate(VISIBLE_TEXT).replace(version, "")

    assert CATALOGUE_KEY.findall(text) == []  # every key has its word
    assert [word for word in OLD_ENGLISH if word.lower() in text.lower()] == []
    assert latin_words(text) == set()
    # What the Chinese shows: the panel's words, codes by their labels, the layers' titles.
    for words in ("map.lookup.officers", "map.lookup.cameras", "map.filters.title", "map.layers.title"):
        assert ZH[words] in text
    assert "办理中" in page.inner_text("#statuses") and "网格" in layer_list(page)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.inner_text("#lang-switch") == "English"
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_chinese.png"))


def test_the_english_switch_shows_english_and_stays_across_a_reload(new_page, server, admin_token, engine):
    page = new_page(admin_token)
    open_map(page, server, "#13/30.0/104.1")
    with page.expect_navigation():
        page.click("#lang-switch")
    wait_for_map(page)

    def english() -> None:
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.evaluate(f"localStorage.getItem('{LANG_KEY}')") == "en"
        assert page.inner_text("#lang-switch") == "中文"
        assert page.inner_text("#filters legend") == EN["map.filters.categories"]
        assert {"Grids", "Incidents", "Cameras"} <= set(layer_list(page))  # the layers' English titles
        assert "in progress" in page.inner_text("#statuses")
        assert page.inner_text("#who-role") == "administrator"
        style = [r for r in page.requests if urlparse(r.url).path == "/tiles/style.json"][-1]
        assert parse_qs(urlparse(style.url).query)["lang"] == ["en"]

    english()
    page.mouse.click(MAP_LEFT + 420, 380)
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    assert EN["map.lookup.officers"] in page.inner_text("#lookup")
    # The service's messages come back in English too.
    page.fill("#search-text", "#999999999")
    page.click("#search button")
    page.wait_for_function("() => document.getElementById('search-error').textContent.length > 0")
    asked = {"Authorization": f"Bearer {admin_token}", "Accept-Language": "en"}
    assert (
        page.inner_text("#search-error") == httpx.get(f"{server}/incidents/999999999", headers=asked).json()["message"]
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_english.png"))

    page.reload()  # still signed in, still in English
    wait_for_map(page)
    english()
    assert CATALOGUE_KEY.findall(page.evaluate(VISIBLE_TEXT)) == []
    # And back.
    with page.expect_navigation():
        page.click("#lang-switch")
    wait_for_map(page)
    assert page.evaluate("document.documentElement.lang") == "zh-CN" and "网格" in layer_list(page)
    assert page.errors == []


def test_times_are_shown_in_the_county_s_time_whatever_the_browser_s(new_page, server, admin_token, engine, settings):
    page = new_page(admin_token, timezone_id="America/New_York")
    assert page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == "America/New_York"

    def county_time(moment: datetime, zone: str = settings.place.timezone) -> str:
        local = moment.astimezone(ZoneInfo(zone))
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"

    incident_id, reported_at = recent_incident(engine)
    assert county_time(reported_at) != county_time(reported_at, "America/New_York")  # else the test proves nothing
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", f"#{incident_id}")
    page.click("#search button")  # the API's moment, shown by the page in the county's time
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    assert ZH["map.lookup.reported"].format(when=county_time(reported_at)) in page.inner_text("#lookup")

    # A click on an incident drawn by the tiles: the tile's time of day, shown as it is.
    wait_for_map(page)
    drawn = page.evaluate(INCIDENT_ON_SCREEN)
    assert drawn
    page.mouse.click(drawn["x"], drawn["y"])
    heading = ZH["map.lookup.incident"].format(id=drawn["id"])
    page.wait_for_function("(h) => document.getElementById('lookup').textContent.includes(h)", arg=heading)
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    clicked = (
        engine.connect().exec_driver_sql(f"SELECT reported_at FROM incidents WHERE id = {int(drawn['id'])}").scalar()
    )
    assert ZH["map.lookup.reported"].format(when=county_time(clicked)) in page.inner_text("#lookup")
    assert page.errors == []


def test_the_style_names_its_layers_in_the_reader_s_language(server, admin_token, tmp_path):
    signed = {"Authorization": f"Bearer {admin_token}"}

    def style(params: dict | None = None, headers: dict | None = None) -> httpx.Response:
        return httpx.get(f"{server}/tiles/style.json", params=params, headers={**signed, **(headers or {})})

    def titles(params: dict | None = None, headers: dict | None = None) -> set[str]:
        answer = style(params, headers)
        assert answer.status_code == 200, answer.text
        return {layer["metadata"]["geo_service:title"] for layer in answer.json()["layers"] if "metadata" in layer}

    assert {"网格", "事件", "视频监控", "乡镇（街道）"} <= titles()  # Chinese unless asked otherwise
    assert {"Grids", "Incidents", "Cameras"} <= titles(params={"lang": "en"})
    assert {"Grids", "Incidents"} <= titles(headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert "网格" in titles(params={"lang": "zh"}, headers={"Accept-Language": "en"})  # lang wins
    wrong = style({"lang": "fr"})
    assert wrong.status_code == 422 and wrong.json()["field"] == "lang"

    # A title in one text serves both languages; a title in two must give both.
    layer = tmp_path / "plain.toml"
    layer.write_text(
        'title = "t"\ngeometry_type = "polygon"\n[source]\ntable = "grids"\n[properties]\ncode = "string"\n'
        '[[style]]\ntype = "line"\n'
    )
    assert parse_layer(layer).titles == {"zh": "t", "en": "t"}
    layer.write_text(layer.read_text().replace('title = "t"', 'title = { zh = "网格" }'))
    with pytest.raises(LayerError) as caught:
        parse_layer(layer)
    assert caught.value.field == "title"
