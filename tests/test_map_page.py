"""The dispatcher's map page in headless Chromium, served for real on loopback.

Asserts what a dispatcher relies on: the page loads with no request leaving the machine, the
grids are drawn, a click answers with the lookup for that spot, and the search box flies to
coordinates in any datum or to an incident. A screenshot is kept in var/test-artifacts/.
"""

from __future__ import annotations

import shutil
from urllib.parse import urlparse

import pytest

from geo_service.locate import locate
from geo_service.settings import PROJECT_ROOT

from .conftest import live_server

playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (scripts/install.sh --browser)")
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
MAP_LEFT = 340  # the panel's width: the map starts there
VIEW = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def server(demo_url):
    with live_server(demo_url) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        # --disable-background-networking: Chromium's own update and safe-browsing calls are not the page's.
        instance = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-background-networking", "--use-gl=swiftshader",
            "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"])
        yield instance
        instance.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport=VIEW)
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()


def open_map(page, server: str, hash_: str = "#13/30.0/104.1") -> None:
    page.goto(f"{server}/{hash_}")
    page.wait_for_function("window.geoMapReady === true", timeout=60_000)
    page.wait_for_function("window.geoMap.areTilesLoaded()", timeout=60_000)


def rendered(page, source: str) -> list[dict]:
    return page.evaluate("""(source) => window.geoMap.queryRenderedFeatures({
        layers: window.geoMap.getStyle().layers.filter(l => l.source === source).map(l => l.id)
    }).map(f => ({id: f.id, properties: f.properties}))""", source)


def test_the_page_loads_from_the_service_alone_and_draws_the_grids(page, server, engine):
    open_map(page, server)
    hosts = {urlparse(url).netloc for url in page.requests if not url.startswith(("data:", "blob:"))}
    assert hosts == {urlparse(server).netloc}
    assert any("/map/vendor/maplibre-gl/" in url for url in page.requests)
    assert any(".mvt" in url for url in page.requests)
    grids = rendered(page, "grids")
    codes = {g["properties"]["code"] for g in grids}
    known = {c for (c,) in engine.connect().exec_driver_sql("SELECT code FROM grids WHERE version_id = 1")}
    assert len(codes) > 20 and codes <= known
    assert page.errors == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = page.screenshot(path=str(ARTIFACTS / "map_page.png"))
    assert len(shot) > 10_000


def test_a_click_shows_the_lookup_of_that_spot(page, server, engine):
    open_map(page, server)
    x, y = MAP_LEFT + 420, 380
    page.mouse.click(x, y)
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    lon, lat = page.evaluate(f"(() => {{ const p = window.geoMap.unproject([{x - MAP_LEFT}, {y}]); return [p.lng, p.lat]; }})()")
    expected = locate(engine, lon, lat, crs="wgs84").to_dict()
    assert page.inner_text("#lookup-grid") == expected["grid"]["code"]
    panel = page.inner_text("#lookup")
    assert expected["village"]["name"] in panel and expected["town"]["name"] in panel
    named = [o["name"] for o in expected["officers"] if not o["vacant"]]
    assert named and all(name in panel for name in named)
    assert page.locator(".maplibregl-popup").count() >= 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map_page_lookup.png"))


@pytest.mark.parametrize("crs", ["gcj02", "bd09", "cgcs2000"])
def test_the_search_box_takes_coordinates_in_any_datum(page, server, engine, crs):
    from geo_service import datum

    open_map(page, server, "#10/30.0/104.1")
    lon, lat = (float(v) for v in datum.convert(104.0712, 30.0031, "cgcs2000", crs))
    page.fill("#search-text", f"{lon:.6f}, {lat:.6f}")
    page.select_option("#search-datum", crs)
    page.click("#search button")
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    expected = locate(engine, 104.0712, 30.0031).to_dict()["grid"]["code"]
    assert page.inner_text("#lookup-grid") == expected
    page.wait_for_function("!window.geoMap.isMoving()", timeout=20_000)
    centre = page.evaluate("(() => { const c = window.geoMap.getCenter(); return [c.lng, c.lat]; })()")
    assert centre == pytest.approx([104.0712, 30.0031], abs=2e-4)  # drawn in WGS84: within ~20 m


def test_the_search_box_flies_to_an_incident(page, server, engine):
    incident_id, lon, lat = engine.connect().exec_driver_sql(
        "SELECT id, ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id LIMIT 1 OFFSET 1000").one()
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", f"#{incident_id}")
    page.click("#search button")
    page.wait_for_selector("#lookup-grid", timeout=20_000)
    assert f"Incident {incident_id}" in page.inner_text("#lookup")
    page.wait_for_function("!window.geoMap.isMoving()", timeout=20_000)
    centre = page.evaluate("(() => { const c = window.geoMap.getCenter(); return [c.lng, c.lat]; })()")
    assert centre == pytest.approx([lon, lat], abs=1e-5)


def test_bad_search_input_is_explained(page, server):
    open_map(page, server, "#10/30.0/104.1")
    page.fill("#search-text", "somewhere")
    page.click("#search button")
    assert "two numbers" in page.inner_text("#search-error")
    page.fill("#search-text", "#999999999")
    page.click("#search button")
    page.wait_for_function("document.getElementById('search-error').textContent.length > 0")
    assert "999999999" in page.inner_text("#search-error") or "not" in page.inner_text("#search-error").lower()


def test_the_hotspots_toggle_shows_only_when_the_service_has_hotspots(page, server, client):
    open_map(page, server, "#10/30.0/104.1")
    page.wait_for_load_state("networkidle")
    has_hotspots = client.head("/analysis/hotspots").status_code != 404
    assert page.locator("#hotspots-toggle").is_visible() is has_hotspots
