"""The grid worker's phone page in real headless Chromium, in a phone-sized window, with the
phone's position inside the worker's own grid, against the service on a copy of the demo county.

What a worker in the field relies on: a report with a photo is recorded at the phone's position;
with no network it is kept on the phone and shown as waiting, the page still opens (its service
worker), and when the network returns it is sent, each report stored exactly once with its photo;
their open cases can be accepted and resolved (with a note and a photo) by tapping, and a step the
service refuses is shown with the service's own message. No request leaves the service and the
page's Content-Security-Policy holds throughout. Screenshots: phone_report, phone_offline_queue,
phone_cases.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from . import browser as chromium
from .browser import PHONE, needs_chromium, screenshot
from .conftest import live_server, scalar, signed_in, token_for
from .test_attachments import jpeg_with_gps

pytestmark = needs_chromium
browser, new_page = chromium.browser, chromium.new_page  # the shared fixtures, found here by name
IN_FORCE = """(SELECT id FROM boundary_versions WHERE status = 'published' AND effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1)"""
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture(scope="module")
def place(module_demo_copy_url, tmp_path_factory):
    """A level-1 grid of the demo county, a point well inside it (WGS84 is CGCS2000 within a
    metre), its worker's token, and the service serving the copy, its photos kept in a folder of
    the test's own; ``requests`` is the server's own log of what reached it."""
    url = module_demo_copy_url
    with pytest.MonkeyPatch.context() as env:
        env.setenv("GEO_SERVICE_ATTACHMENTS_DIR", str(tmp_path_factory.mktemp("phone-attachments")))
        from geo_service.db.engine import get_engine

        engine = get_engine(url)
        with engine.connect() as c:
            grid, lon, lat = c.execute(
                text(f"""
                SELECT g.code, ST_X(p), ST_Y(p) FROM grids g, ST_PointOnSurface(ST_Buffer(g.geom, -0.0005)) p
                 WHERE g.version_id = {IN_FORCE} AND g.level = 1 AND NOT ST_IsEmpty(p)
                 ORDER BY ST_Area(g.geom) DESC LIMIT 1""")
            ).one()
        requests: list[str] = []
        with live_server(url, record=requests) as server:
            yield {
                "url": url,
                "engine": engine,
                "server": server,
                "grid": grid,
                "lon": lon,
                "lat": lat,
                "token": token_for(url, "grid_worker", grid, name="网格员-手机"),
                "requests": requests,
            }


def open_phone(new_page, place, located: bool = True):
    """The page on a phone whose position is inside the worker's grid (or, not ``located``, that
    is not allowed to give one)."""
    where = (
        {
            "geolocation": {"longitude": place["lon"], "latitude": place["lat"], "accuracy": 12},
            "permissions": ["geolocation"],
        }
        if located
        else {}
    )
    page = new_page(place["token"], viewport=PHONE, is_mobile=True, has_touch=True, **where)
    page.outside = []  # requests to anywhere but the service (blob: thumbnails of photos stay in the page)
    page.context.on("request", lambda r: page.outside.append(r.url) if leaves(r.url, place["server"]) else None)
    page.goto(f"{place['server']}/phone")
    wait_ready(page)
    return page


def leaves(url: str, server: str) -> bool:
    return not url.startswith((server + "/", "blob:", "data:"))


def wait_ready(page) -> None:
    page.wait_for_function("() => window.phoneReady === true", timeout=30_000)


def fill_report(page, category: str, description: str, photo: bytes, name: str) -> None:
    page.click("#tab-button-report")
    page.select_option("#category", category)
    page.fill("#description", description)
    page.set_input_files("#photos", files=[{"name": name, "mimeType": "image/jpeg", "buffer": photo}])
    page.wait_for_function("() => document.querySelectorAll('#photo-previews img').length === 1")


def outbox(page) -> list[dict]:
    return page.evaluate("async () => (await PhoneQueue.all()).map(r => ({id: r.id, state: r.state}))")


def stored(place, external_id: str) -> tuple[int, int]:
    """How many incidents hold ``external_id``, and how many photos they have."""
    return (
        scalar(place["engine"], "SELECT count(*) FROM incidents WHERE external_id = :e", e=external_id),
        scalar(
            place["engine"],
            """SELECT count(*) FROM incident_attachments a JOIN incidents i ON i.id = a.incident_id
                WHERE i.external_id = :e""",
            e=external_id,
        ),
    )


def assert_clean(page) -> None:
    assert page.evaluate("() => window.cspViolations") == []
    assert page.csp_console == [] and page.errors == []
    assert page.outside == []


def test_reports_are_kept_on_the_phone_offline_and_each_stored_once_with_its_photo(new_page, place):
    page = open_phone(new_page, place)
    page.wait_for_function("() => document.getElementById('position-status').classList.contains('ok')")
    assert "精度约 12 米" in page.inner_text("#position-status")
    # The worker's first report, online, with a photo from the camera.
    fill_report(page, "security_hazard", "村口路灯不亮，夜间行人有安全隐患", jpeg_with_gps(), "IMG_0001.jpg")
    screenshot(page, "phone_report")
    page.click("#submit-report")
    page.wait_for_function("() => document.querySelectorAll('#queue-list .state-sent').length === 1", timeout=30_000)
    [first] = outbox(page)
    assert stored(place, first["id"]) == (1, 1)
    incident = scalar(
        place["engine"], "SELECT grid_code || ' ' || source FROM incidents WHERE external_id = :e", e=first["id"]
    )
    assert incident.startswith(place["grid"]) and incident.endswith(" grid_app")

    # The page works offline once its service worker holds it.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=30_000)
    page.wait_for_function(
        """async () => { const kept = await caches.open('geo_service.phone.user');
                         return (await kept.keys()).some(r => r.url.includes('/auth/me')); }""",
        timeout=30_000,
    )
    page.context.set_offline(True)
    page.wait_for_function("() => document.getElementById('net').textContent === '离线'")
    fill_report(page, "dispute", "两户因宅基地界线发生争执", jpeg_with_gps(colour=(20, 160, 90)), "IMG_0002.jpg")
    page.click("#submit-report")
    page.wait_for_function(
        "() => document.getElementById('report-message').textContent === '已保存在手机上，联网后自动发送'"
    )
    page.click("#tab-button-queue")
    page.wait_for_function("() => document.getElementById('queue-summary').textContent === '待发送 1 条'")
    assert page.inner_text("#queue-badge") == "1"
    assert page.locator("#queue-list .state-waiting .state").inner_text() == "待发送"
    second = next(r for r in outbox(page) if r["id"] != first["id"])
    assert second["state"] == "waiting" and stored(place, second["id"]) == (0, 0)
    screenshot(page, "phone_offline_queue")

    # Opened again with no network: from the phone, the waiting report still there.
    reached = len(place["requests"])
    page.reload()
    wait_ready(page)
    page.click("#tab-button-queue")
    assert page.inner_text("#queue-summary") == "待发送 1 条"
    assert place["requests"][reached:] == [], "the page opened offline still reached the service"

    # The network returns: sent at once, and only once.
    page.context.set_offline(False)
    page.wait_for_function("() => document.querySelectorAll('#queue-list .state-sent').length === 2", timeout=30_000)
    assert page.inner_text("#queue-summary") == "没有待发送的上报"
    assert page.locator("#queue-badge").is_hidden()
    for report in (first, second):
        assert stored(place, report["id"]) == (1, 1)
    posts = [line for line in place["requests"] if line.startswith("POST /incidents ")]
    assert len(posts) == 2, posts
    # Asking the outbox to send again sends nothing more.
    page.evaluate("() => PhoneQueue.flush()")
    time.sleep(1)
    assert [line for line in place["requests"] if line.startswith("POST /incidents ")] == posts
    assert_clean(page)


def test_a_worker_accepts_and_resolves_a_case_by_tapping(new_page, place):
    with signed_in(place["url"], "dispatcher", place["grid"][:12]) as centre:
        body = {
            "lon": place["lon"],
            "lat": place["lat"],
            "crs": "wgs84",
            "category": "public_service",
            "source": "hotline_12345",
            "reported_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "description": "群众来电：路面坑洼积水",
        }
        case = centre.post("/incidents", json={**body, "external_id": "PHONE-CASE-1"}).json()
        gone = centre.post("/incidents", json={**body, "external_id": "PHONE-CASE-2"}).json()
        assert case["status"] == gone["status"] == "dispatched"
        page = open_phone(new_page, place)
        page.click("#tab-button-cases")
        card = page.locator(f"#cases-list li[data-id='{case['id']}']")
        card.wait_for()
        assert card.locator(".status").inner_text() == "已派遣"
        assert card.locator("button[data-action]").all_inner_texts() == ["受理"]

        card.locator("button[data-action='accept']").click()
        page.wait_for_function(
            f"() => document.querySelector(\"#cases-list li[data-id='{case['id']}'] .status\").textContent === '已受理'"
        )
        assert card.locator("button[data-action]").all_inner_texts() == ["开始办理", "办结"]
        assert card.locator(".message").inner_text() == "已完成：受理"
        screenshot(page, "phone_cases")

        card.locator("button[data-action='resolve']").click()
        card.locator(".resolve-note").fill("已联系养护单位填平坑洼，现场已无积水")
        card.locator(".resolve-photos").set_input_files(
            files=[{"name": "done.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps(colour=(90, 90, 200))}]
        )
        card.locator(".resolve-form img").wait_for()
        card.locator("button[data-confirm]").click()
        page.wait_for_function(
            f"() => document.querySelector(\"#cases-list li[data-id='{case['id']}'] .status\").textContent === '已办结'"
        )
        stored_case = centre.get(f"/incidents/{case['id']}").json()
        assert stored_case["status"] == "resolved"
        assert stored_case["timeline"][-1]["note"] == "已联系养护单位填平坑洼，现场已无积水"
        assert stored_case["timeline"][-1]["actor"] == "网格员-手机"
        assert [a["file_name"] for a in stored_case["attachments"]] == ["done.jpg"]

        # The centre rejects the other case while the page still offers to accept it: the
        # refusal is shown in the service's own words.
        other = page.locator(f"#cases-list li[data-id='{gone['id']}']")
        assert centre.post(f"/incidents/{gone['id']}/reject", json={"note": "重复来电"}).status_code == 200
        other.locator("button[data-action='accept']").click()
        said = centre.post(f"/incidents/{gone['id']}/accept", json={}, headers=ZH).json()["message"]
        page.wait_for_function(
            f"() => document.querySelector(\"#cases-list li[data-id='{gone['id']}'] .message\").textContent !== ''"
        )
        assert other.locator(".message").inner_text() == said
        assert scalar(place["engine"], "SELECT status FROM incidents WHERE id = :i", i=gone["id"]) == "rejected"
    assert_clean(page)


def test_without_the_phones_position_the_photos_is_offered(new_page, place):
    page = open_phone(new_page, place, located=False)
    page.wait_for_function("() => document.getElementById('position-status').classList.contains('warn')")
    assert page.inner_text("#position-status").startswith("未能获取手机位置")
    photo = jpeg_with_gps(place["lon"], place["lat"], colour=(200, 200, 30))
    fill_report(page, "other", "照片位置测试", photo, "IMG_0003.jpg")
    offer = page.locator("#use-photo-position")
    offer.wait_for()
    assert offer.inner_text().startswith("使用照片拍摄位置")
    offer.click()
    assert page.inner_text("#position-status").startswith("使用照片位置")
    page.click("#submit-report")
    page.wait_for_function("() => document.querySelectorAll('#queue-list .state-sent').length >= 1", timeout=30_000)
    [sent] = [r for r in outbox(page) if r["state"] == "sent"]
    with place["engine"].connect() as connection:
        lon, lat, datum = connection.execute(
            text("SELECT input_lon, input_lat, input_datum FROM incidents WHERE external_id = :e"), {"e": sent["id"]}
        ).one()
    assert datum == "wgs84"
    assert lon == pytest.approx(place["lon"], abs=1e-6) and lat == pytest.approx(place["lat"], abs=1e-6)
    assert_clean(page)


def test_the_page_speaks_english_through_the_switch(new_page, place):
    page = new_page(place["token"], viewport=PHONE, language="en", is_mobile=True, has_touch=True)
    page.goto(f"{place['server']}/phone")
    wait_ready(page)
    assert page.locator("#tabs [role=tab]").all_inner_texts() == ["Report", "Outbox", "My cases"]
    assert page.inner_text("#lang-switch") == "中文"
    shown = page.inner_text("body")
    assert "phone." not in shown and "common." not in shown, shown  # no word missing from the catalogue
    assert page.locator("#category option").all_inner_texts()[:2] == ["Choose", "public service"]
