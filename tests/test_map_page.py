"""The dispatcher's map page in headless Chromium, served for real on loopback.

Asserts what a dispatcher relies on: the page asks for a token before it shows anything, it loads
with no request leaving the machine and under a Content-Security-Policy that nothing on it
breaks, the grids are drawn (only those of the user's jurisdiction), a click answers with the
lookup for that spot, and the search box flies to coordinates in any datum or to an incident.
Screenshots are kept in var/test-artifacts/.
"""

from __future__ import annotations

import json
import shutil
import struct
import threading
import zlib
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

import httpx
import pytest

from geo_service.auth.users import revoke_user
from geo_service.lookup.locate import locate
from geo_service.settings import PROJECT_ROOT

from .conftest import live_server, token_for

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (scripts/install.sh --browser)"
)
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
MAP_LEFT = 340  # the panel's width: the map starts there
VIEW = {"width": 1280, "height": 800}
TOKEN_KEY = "geo_service.token"  # where map.js keeps the token in sessionStorage
# Collects the policy violations the page reports, from before its first script runs.
WATCH_CSP = """
    window.cspViolations = [];
    document.addEventListener("securitypolicyviolation",
        (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
IN_FORCE = """(SELECT id FROM boundary_versions WHERE status = 'published' AND effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1)"""


@pytest.fixture(scope="module")
def server(demo_url):
    with live_server(demo_url) as url:
        yield url


@pytest.fixture(scope="module")
def admin_token(demo_url) -> str:
    return token_for(demo_url)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # --disable-background-networking: Chromium's own update and safe-browsing calls are not the page's.
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--use-gl=swiftshader",
                "--enable-unsafe-swiftshader",
                "--ignore-gpu-blocklist",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def new_page(browser):
    """Pages in fresh browser contexts, signed in with ``token`` (set before the page loads) or not."""
    contexts = []

    def make(token: str | None = None):
        context = browser.new_context(viewport=VIEW)
        contexts.append(context)
        context.add_init_script(WATCH_CSP)
        if token is not None:
            context.add_init_script(
                f"try {{ sessionStorage.setItem('{TOKEN_KEY}', {json.dumps(token)}); }} catch (e) {{}}"
            )
        page = context.new_page()
        page.requests = []
        page.errors = []
        page.csp_console = []
        page.on("request", lambda request: page.requests.append(request))
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        page.on("console", lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else None)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page, admin_token):
    """A page signed in as an administrator over the whole county."""
    return new_page(admin_token)


def open_map(page, server: str, hash_: str = "#13/30.0/104.1") -> None:
    page.goto(f"{server}/{hash_}")
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
    assert "Incidents (事件)" in layer_list(page)  # an administrator sees every layer
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "map_page.png"))
    assert len(shot) > 10_000


def test_without_a_token_the_page_asks_to_sign_in_and_loads_nothing_of_the_county(new_page, server):
    page = new_page()
    page.goto(f"{server}/#13/30.0/104.1")
    page.wait_for_selector("#signin", state="visible")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.geoMap ?? null") is None
    asked = {urlparse(r.url).path for r in page.requests}
    assert not any(path.startswith(("/tiles", "/locate", "/incidents", "/analysis", "/map/extent")) for path in asked)
    assert tile_requests(page) == []
    assert page.locator("#who").is_hidden()
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_signin.png"))


def test_a_wrong_token_shows_the_sign_in_again_with_the_reason(new_page, server):
    page = new_page()
    page.goto(f"{server}/")
    page.fill("#signin-token", "gs_not-a-token-of-this-service")
    page.click("#signin button[type=submit]")
    page.wait_for_function("() => document.getElementById('signin-error').textContent.length > 0")
    assert "unknown or revoked" in page.inner_text("#signin-error")
    assert sign_in_shown(page) and page.locator("#who").is_hidden()
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") is None

    # A wrong token kept from an earlier visit is refused the same way.
    stale = new_page("gs_stale-token")
    stale.goto(f"{server}/")
    stale.wait_for_function("() => document.getElementById('signin-error').textContent.length > 0")
    assert "unknown or revoked" in stale.inner_text("#signin-error") and sign_in_shown(stale)
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
    page = new_page()
    page.goto(f"{server}/")
    page.fill("#signin-token", token)
    page.click("#signin button[type=submit]")
    wait_for_map(page)
    assert not sign_in_shown(page)
    assert page.inner_text("#who-name") == "Wang Fang (dispatcher)"
    assert page.inner_text("#who-role") == "dispatcher"
    assert town_name in page.inner_text("#who-jurisdiction")
    assert page.evaluate(f"sessionStorage.getItem('{TOKEN_KEY}')") == token

    # Every request to the service but the page's own files carries the token: the style, the
    # tiles (fetched by MapLibre's workers), the page's own calls.
    page.mouse.click(MAP_LEFT + 470, 400)
    page.wait_for_selector("#lookup h2, #lookup .error", timeout=20_000)
    api_calls = [
        r
        for r in page.requests
        if not urlparse(r.url).path.startswith(("/map/static", "/map/vendor"))
        and urlparse(r.url).path != "/"
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
    page.goto(f"{server}/#12/30.0/104.1")
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
    assert "sign in again" in page.inner_text("#signin-error")
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
    page.goto(f"{server}/")  # no position in the address: the map fits the user's town
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
    page.goto(f"{server}/{where}")
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
    assert any("Grids" in name for name in listed) and any("Cameras" in name for name in listed)
    assert "Incidents (事件)" not in listed
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
    page.wait_for_function("() => document.getElementById('lookup').textContent.includes('Where is this')")
    page.wait_for_function("() => window.geoMap.areTilesLoaded() && !window.geoMap.isMoving()", timeout=60_000)
    assert page.evaluate("window.cspViolations") == [] and page.csp_console == []

    # The page and its files are sent with the policy, and the browser enforces it: an inline
    # script (what an injected <script> would be) does not run, and is reported.
    for path in ("/", "/map/static/map.js", "/map/static/map.css", "/map/vendor/maplibre-gl/dist/maplibre-gl.js"):
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
            policy = next(r for r in page.requests if r.url == f"{server}/").response().all_headers()
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
        for path in ("/", "/map/static/map.js", "/map/config.json", "/map/vendor/maplibre-gl/dist/maplibre-gl.css"):
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
    assert f"Incident {incident_id}" in page.inner_text("#lookup")
    page.wait_for_function("() => !window.geoMap.isMoving()", timeout=20_000)
    centre = page.evaluate("(() => { const c = window.geoMap.getCenter(); return [c.lng, c.lat]; })()")
    assert centre == pytest.approx([lon, lat], abs=1e-5)


def test_bad_search_input_is_explained(page, server):
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", "somewhere")
    page.click("#search button")
    assert "two numbers" in page.inner_text("#search-error")
    page.fill("#search-text", "#999999999")
    page.click("#search button")
    page.wait_for_function("() => document.getElementById('search-error').textContent.length > 0")
    assert "999999999" in page.inner_text("#search-error") or "not" in page.inner_text("#search-error").lower()


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
