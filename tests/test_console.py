"""The dispatcher's console at / in real headless Chromium, served for real on loopback over a
private copy of the demo county.

What a dispatcher relies on: a red case taken from the inbox through the whole loop by clicking,
in Chinese, with the timeline stored as it was clicked; a refused step saying why in the server's
own Chinese; a case recorded by a click on the map landing in that point's grid with its people
bound; new cases arriving without a reload; a town user seeing nothing of another town; the
English switch. Every page is checked for policy violations, script errors and requests leaving
the service. Screenshots: console_inbox, console_case, console_new_case.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import text

from geo_service.db.engine import get_engine
from geo_service.lookup.locate import locate
from geo_service.settings import Settings

from . import browser as chromium
from .browser import needs_chromium, screenshot
from .conftest import live_server, token_for

browser, new_page = chromium.browser, chromium.new_page  # the fixtures, found by name

pytestmark = needs_chromium
CHINESE = re.compile(r"[\u4e00-\u9fff]")
RUNNING = "('dispatched', 'accepted', 'in_progress')"
IN_FORCE = """(SELECT id FROM boundary_versions WHERE status = 'published' AND effective_from <= now()
                ORDER BY effective_from DESC LIMIT 1)"""


@pytest.fixture(scope="module")
def url(module_demo_copy_url):
    return module_demo_copy_url


@pytest.fixture(scope="module")
def db(url):
    return get_engine(url)


@pytest.fixture(scope="module")
def server(url):
    with live_server(url) as address:
        yield address


@pytest.fixture(scope="module")
def dispatcher(url) -> str:
    return token_for(url, "dispatcher", name="值班员王芳")


def open_console(page, server: str) -> None:
    page.goto(f"{server}/")
    page.wait_for_function("() => window.consoleReady === true", timeout=60_000)


# (Waits are functions: the page's policy forbids evaluating strings, as Playwright would a bare expression.)
def wait_for_map(page) -> None:
    page.wait_for_function("() => window.consoleMapReady === true", timeout=60_000)
    page.wait_for_function("() => window.consoleMap.areTilesLoaded() && !window.consoleMap.isMoving()", timeout=60_000)


def assert_clean(page, server: str) -> None:
    """No policy violation, no script error, nothing asked of any other server."""
    assert page.evaluate("() => window.cspViolations") == [] and page.csp_console == []
    assert page.errors == []
    own = urlparse(server).netloc
    elsewhere = [
        r.url for r in page.requests if not r.url.startswith(("data:", "blob:")) and urlparse(r.url).netloc != own
    ]
    assert elsewhere == []


def reloaded(page, act) -> None:
    """Do ``act`` (a click, a search) and wait for the inbox to be loaded again after it."""
    before = page.evaluate("() => window.consoleInboxLoaded || 0")
    act()
    page.wait_for_function("(before) => window.consoleInboxLoaded > before", arg=before, timeout=20_000)


def tab(page, bucket: str) -> None:
    reloaded(page, lambda: page.click(f'#buckets button[data-bucket="{bucket}"]'))


def search(page, words: str) -> None:
    page.fill("#search-text", words)
    reloaded(page, lambda: page.click("#search button"))


def notice(page) -> str:
    page.wait_for_selector("#case-notice:not([hidden])")
    return page.inner_text("#case-notice")


def step(page, action: str, **attributes) -> str:
    """Click the step's button and wait for the case to be redrawn after it; the notice said."""
    shown = page.evaluate("() => document.querySelectorAll('#case-timeline li').length")
    extra = "".join(f'[data-{k}="{v}"]' for k, v in attributes.items())
    page.click(f'#case-actions button[data-action="{action}"]{extra}')
    page.wait_for_function(
        "(shown) => document.querySelectorAll('#case-timeline li').length > shown", arg=shown, timeout=20_000
    )
    return notice(page)


def test_a_red_case_goes_from_the_inbox_through_the_whole_loop_by_clicking(new_page, server, dispatcher, db):
    with db.connect() as c:
        case_id, status, deadline, urges = c.execute(
            text(f"""SELECT id, status, deadline, urge_count FROM incidents i
                      WHERE risk_colour = 'red' AND status IN {RUNNING} AND tier = 'village' AND deadline < now()
                        AND NOT EXISTS (SELECT 1 FROM incident_extensions e
                                         WHERE e.incident_id = i.id AND e.decided_at IS NULL)
                      ORDER BY id DESC LIMIT 1""")
        ).one()
        events_before = c.execute(
            text("SELECT count(*) FROM incident_events WHERE incident_id = :id"), {"id": case_id}
        ).scalar()
    page = new_page(dispatcher)
    open_console(page, server)
    assert page.inner_text("#who-name") == "值班员王芳" and page.inner_text("#who-role") == "调度员"
    assert "仁寿县" in page.inner_text("#who-jurisdiction")
    assert [b.strip() for b in page.locator("#buckets button").all_inner_texts()][2].startswith("已超期")
    tab(page, "overdue")
    assert page.get_attribute("#inbox-list li.case", "data-risk") == "red"  # red cases first
    assert page.locator("#inbox-list li.case").first.locator(".red-mark").inner_text() == "红"
    wait_for_map(page)
    screenshot(page, "console_inbox")

    search(page, str(case_id))
    assert page.eval_on_selector_all("#inbox-list li.case", "els => els.map(e => Number(e.dataset.id))") == [case_id]
    page.click(f'#inbox-list button.open[data-id="{case_id}"]')
    page.wait_for_function("(id) => window.consoleCaseFilled === id", arg=case_id, timeout=30_000)
    assert page.inner_text("#case-risk") == "红色"
    assert page.locator("#case-people tr").count() > 3 and page.locator("#case-people a.dial").count() > 0
    wait_for_map(page)
    screenshot(page, "console_case")

    page.fill("#act-note", "请立即处置")
    assert step(page, "urge") == "已催办。"
    assert step(page, "escalate") == "已提级。" and page.inner_text("#case-tier") == "乡镇（街道）"
    page.fill("#act-hours", "48")
    assert step(page, "request_extension") == "已申请延期。"
    assert step(page, "decide_extension", grant="true") == "已审批延期。"
    walk = ["urge", "escalate", "request_extension", "decide_extension"]
    if status == "dispatched":
        step(page, "accept")
        walk.append("accept")
    assert step(page, "resolve") == "已办结。" and page.inner_text("#case-status") == "已办结"
    page.select_option("#act-satisfaction", "4")
    assert step(page, "close") == "已结案。" and page.inner_text("#case-status") == "已结案"
    walk += ["resolve", "close"]
    assert page.locator("#case-actions .step").count() == 1  # only reopen is left
    timeline = page.inner_text("#case-timeline")
    assert "催办" in timeline and "提级" in timeline and "年" in timeline and "值班员王芳" in timeline

    with db.connect() as c:
        stored = c.execute(
            text("SELECT action, actor, note FROM incident_events WHERE incident_id = :id ORDER BY at, id"),
            {"id": case_id},
        ).all()
        case = c.execute(
            text("SELECT status, tier, satisfaction, urge_count, deadline FROM incidents WHERE id = :id"),
            {"id": case_id},
        ).one()
    assert [e.action for e in stored[events_before:]] == walk
    assert {e.actor for e in stored[events_before:]} == {"值班员王芳"}
    assert stored[events_before].note == "请立即处置"
    assert (case.status, case.tier, case.satisfaction, case.urge_count) == ("closed", "town", 4, urges + 1)
    assert case.deadline - deadline == timedelta(hours=48)
    assert_clean(page, server)


def test_a_step_refused_shows_the_servers_own_chinese_message(new_page, server, dispatcher, db):
    with db.connect() as c:
        case_id = c.execute(
            text(f"""SELECT id FROM incidents i WHERE status IN {RUNNING} AND NOT EXISTS (
                        SELECT 1 FROM incident_extensions e WHERE e.incident_id = i.id AND e.decided_at IS NULL)
                      ORDER BY id LIMIT 1""")
        ).scalar()
    page = new_page(dispatcher)
    open_console(page, server)
    tab(page, "dispatched")
    search(page, str(case_id))
    page.click(f'#inbox-list button.open[data-id="{case_id}"]')
    page.wait_for_selector("#case-actions")
    # With no extension request waiting, the page offers no decision on one; merging a case into
    # itself is refused by the server, and the page shows the server's own words.
    assert page.locator('#case-actions button[data-action="decide_extension"]').count() == 0
    page.fill("#act-into", str(case_id))
    page.click('#case-actions button[data-action="merge"]')
    page.wait_for_function("() => document.getElementById('case-error').textContent.length > 0")
    shown = page.inner_text("#case-error")
    said = httpx.post(
        f"{server}/incidents/{case_id}/merge",
        json={"into": case_id},
        headers={"Authorization": f"Bearer {dispatcher}"},
    )
    assert said.status_code == 422 and shown == said.json()["message"]
    assert CHINESE.search(shown)
    assert_clean(page, server)


def test_a_call_and_a_new_risk_colour_are_put_on_the_timeline_by_clicking(new_page, server, dispatcher, db):
    with db.connect() as c:
        case_id = c.execute(
            text(f"""SELECT id FROM incidents WHERE status IN {RUNNING} AND risk_colour = 'blue' AND tier = 'village'
                      ORDER BY id DESC LIMIT 1 OFFSET 5""")
        ).scalar()
    page = new_page(dispatcher)
    open_console(page, server)
    tab(page, "dispatched")
    search(page, str(case_id))
    page.click(f'#inbox-list button.open[data-id="{case_id}"]')
    page.wait_for_selector("#case-people button.called")
    person = page.locator("#case-people button.called").first
    officer, name = person.get_attribute("data-officer"), person.get_attribute("data-name")
    phone = page.locator("#case-people a.dial").first.get_attribute("href")
    assert phone.startswith("tel:1") and len(phone) == len("tel:") + 11  # 一键拨号: the phone dials
    person.click()
    assert notice(page) == f"已记录拨打 {name}。"
    page.fill("#act-note", "群众情绪激动，可能激化")
    page.select_option("#act-colour", "red")
    assert step(page, "set_risk") == "已调整风险等级。" and page.inner_text("#case-risk") == "红色"
    with db.connect() as c:
        events = c.execute(
            text("""SELECT action, data->>'officer_code' AS officer, note FROM incident_events
                     WHERE incident_id = :id AND action IN ('call', 'set_risk') ORDER BY at"""),
            {"id": case_id},
        ).all()
        colour = c.execute(text("SELECT risk_colour FROM incidents WHERE id = :id"), {"id": case_id}).scalar()
    assert [(e.action, e.officer) for e in events] == [("call", officer), ("set_risk", None)]
    assert "群众情绪激动" in events[1].note and colour == "red"
    roles = page.eval_on_selector_all("#case-people tr[data-tier=village]", "els => els.map(e => e.dataset.role)")
    assert "county_leader" in roles  # a red case binds a county leader (responsibility_rules.csv)
    assert_clean(page, server)


def test_a_case_recorded_by_a_click_on_the_map_lands_in_that_grid_with_its_people(
    new_page, server, dispatcher, db, url
):
    with db.connect() as c:
        lon, lat = c.execute(
            text(f"""SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM grids
                      WHERE version_id = {IN_FORCE} AND level = 1 ORDER BY code LIMIT 1 OFFSET 40""")
        ).one()
    page = new_page(dispatcher)
    open_console(page, server)
    page.click("#new-case-button")
    page.wait_for_selector("#new-case")
    wait_for_map(page)
    page.evaluate("([lon, lat]) => window.consoleMap.jumpTo({center: [lon, lat], zoom: 16})", [lon, lat])
    wait_for_map(page)
    box = page.locator("#case-map canvas").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2 + 13, box["y"] + box["height"] / 2 - 7)
    page.wait_for_function("() => document.getElementById('new-where').textContent.length > 0", timeout=20_000)
    clicked = (float(page.input_value("#new-lon")), float(page.input_value("#new-lat")))
    assert page.input_value("#new-datum") == "wgs84"
    page.select_option("#new-category", "security_hazard")
    page.select_option("#new-source", "citizen")
    page.select_option("#new-risk", "yellow")
    page.fill("#new-description", "路口井盖缺失，存在安全隐患")
    screenshot(page, "console_new_case")
    page.click("#new-submit")
    page.wait_for_function("() => window.consoleCaseShown && !window.consoleNewCaseOpen", timeout=30_000)
    case_id = int(page.get_attribute("#case", "data-id"))
    assert "已登记案件" in notice(page)
    named = [n for n in page.locator("#case-people tr:not(.vacant) td:nth-child(3)").all_inner_texts() if n.strip()]
    assert named and page.inner_text("#case-deadline")
    expected = locate(get_engine(url), *clicked, "wgs84", settings=Settings(database_url=url)).place
    with db.connect() as c:
        stored = c.execute(
            text("""SELECT external_id, grid_code, category, source, risk_colour, status, input_datum,
                           input_lon, input_lat FROM incidents WHERE id = :id"""),
            {"id": case_id},
        ).one()
        bound = c.execute(
            text("SELECT count(*) FROM incident_officers WHERE incident_id = :id AND officer_id IS NOT NULL"),
            {"id": case_id},
        ).scalar()
    assert stored.grid_code == expected.grid_code and expected.grid_code in page.inner_text("#case-grid")
    assert stored.external_id.startswith("CONSOLE-")
    assert (stored.category, stored.source, stored.risk_colour, stored.status) == (
        "security_hazard",
        "citizen",
        "yellow",
        "dispatched",
    )
    assert (stored.input_datum, round(stored.input_lon, 6), round(stored.input_lat, 6)) == ("wgs84", *clicked)
    assert bound == len(named)
    assert_clean(page, server)


def test_new_cases_arrive_without_a_reload(new_page, server, dispatcher, db):
    page = new_page(dispatcher)
    page.add_init_script("window.consolePollMs = 800;")
    open_console(page, server)
    tab(page, "dispatched")
    before = page.evaluate("() => window.CS.inbox.counts.dispatched")
    with db.connect() as c:
        lon, lat = c.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents ORDER BY id LIMIT 1")).one()
    answer = httpx.post(
        f"{server}/incidents",
        headers={"Authorization": f"Bearer {dispatcher}"},
        json={
            "external_id": "CONSOLE-TEST-ARRIVAL",
            "lon": lon,
            "lat": lat,
            "category": "emergency",
            "source": "police_110",
            "reported_at": datetime.now().astimezone().isoformat(),
            "risk_colour": "red",
        },
    )
    assert answer.status_code == 201, answer.text
    new_id = answer.json()["id"]
    page.wait_for_selector(f'#arrivals-list button[data-id="{new_id}"]', timeout=20_000)
    assert page.locator("#arrivals").is_visible() and "新到案件" in page.inner_text("#arrivals-title")
    # The tab's count moved with it, the page never reloaded.
    page.wait_for_function("(before) => window.CS.inbox.counts.dispatched === before + 1", arg=before)
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    page.click(f'#arrivals-list button[data-id="{new_id}"]')
    page.wait_for_function("(id) => window.consoleCaseShown === id", arg=new_id)
    assert page.inner_text("#case-risk") == "红色"
    assert_clean(page, server)


def test_one_click_urges_a_selection_of_overdue_cases(new_page, server, dispatcher, db):
    page = new_page(dispatcher)
    open_console(page, server)
    assert page.locator("#bulk").is_hidden()  # only the overdue cases are urged from the list
    tab(page, "overdue")
    assert page.locator("#bulk").is_visible() and page.is_disabled("#bulk-urge")
    boxes = page.locator("#inbox-list input.pick")
    chosen = [int(boxes.nth(i).get_attribute("data-id")) for i in (1, 2, 4)]
    for i in (1, 2, 4):
        boxes.nth(i).check()
    assert page.inner_text("#bulk-urge") == "一键催办（3）"
    with db.connect() as c:
        before = dict(
            c.execute(text("SELECT id, urge_count FROM incidents WHERE id = ANY(:ids)"), {"ids": chosen}).all()
        )
    reloaded(page, lambda: page.click("#bulk-urge"))
    assert page.inner_text("#bulk-result") == "已催办 3 件，未能催办 0 件"
    with db.connect() as c:
        after = dict(
            c.execute(text("SELECT id, urge_count FROM incidents WHERE id = ANY(:ids)"), {"ids": chosen}).all()
        )
        actors = set(
            c.execute(
                text(
                    "SELECT actor FROM incident_events WHERE incident_id = ANY(:ids) AND action = 'urge' AND at > now() - interval '5 minutes'"
                ),
                {"ids": chosen},
            ).scalars()
        )
    assert after == {i: n + 1 for i, n in before.items()} and actors == {"值班员王芳"}
    assert page.locator("#inbox-list input.pick:checked").count() == 0 and page.is_disabled("#bulk-urge")
    assert_clean(page, server)


def test_a_town_users_inbox_holds_nothing_of_another_town(new_page, server, url, db):
    with db.connect() as c:
        town, name = c.execute(
            text(f"""SELECT i.town_code, min(t.name) FROM incidents i JOIN admin_units t ON t.code = i.town_code
                      WHERE i.status IN {RUNNING} GROUP BY 1 ORDER BY count(*) DESC LIMIT 1 OFFSET 3""")
        ).one()
    page = new_page(token_for(url, "dispatcher", town))
    open_console(page, server)
    assert name in page.inner_text("#who-jurisdiction")
    seen: set[int] = set()
    for bucket in ("new", "dispatched", "overdue", "due_soon"):
        tab(page, bucket)
        seen |= {int(i) for i in page.eval_on_selector_all("#inbox-list li.case", "els => els.map(e => e.dataset.id)")}
    counts = page.evaluate("() => window.CS.inbox.counts")
    with db.connect() as c:
        towns = set(
            c.execute(
                text("SELECT DISTINCT town_code FROM incidents WHERE id = ANY(:ids)"), {"ids": list(seen)}
            ).scalars()
        )
        open_here = c.execute(
            text("""SELECT count(*) FROM incidents WHERE town_code = :t
                     AND status IN ('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')"""),
            {"t": town},
        ).scalar()
    assert seen and towns == {town}
    assert counts["open"] == open_here
    places = page.eval_on_selector_all("#filter-place option", "els => els.map(e => e.value).filter(Boolean)")
    assert places and all(p.startswith(town[:9]) for p in places)
    assert_clean(page, server)


def test_the_english_switch_shows_english_labels(new_page, server, dispatcher):
    page = new_page(dispatcher)
    open_console(page, server)
    assert page.inner_text("#lang-switch") == "English"
    page.click("#lang-switch")
    page.wait_for_function("() => window.consoleReady === true && document.documentElement.lang === 'en'")
    tabs = [b.split("\n")[0].strip() for b in page.locator("#buckets button").all_inner_texts()]
    assert [re.sub(r"\s*[\d,]+$", "", tab) for tab in tabs] == ["New", "Being handled", "Overdue", "Due within a day"]
    assert page.inner_text("#who-role") == "dispatcher" and page.inner_text("#lang-switch") == "中文"
    tab(page, "dispatched")
    statuses = set(page.locator("#inbox-list .status").all_inner_texts())
    assert statuses and statuses <= {"dispatched", "accepted", "in progress"}
    risks = set(page.locator("#inbox-list .risk").all_inner_texts())
    assert risks and risks <= {"red", "yellow", "blue"}
    words = page.eval_on_selector_all(
        "#filters-box summary, #filters label > span, #filters button", "els => els.map(e => e.textContent)"
    )
    assert "Category" in words and "Risk colour" in words
    assert not CHINESE.search(" ".join(words) + page.inner_text("#buckets") + page.inner_text("#pager"))
    page.locator("#inbox-list button.open").first.click()
    page.wait_for_selector("#case-actions")
    assert "Steps allowed now" in page.inner_text("#case-actions")
    assert_clean(page, server)
