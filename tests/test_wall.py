"""The command centre's wall screen: ``GET /wall/summary`` and the page at ``/wall``.

The API's figures are checked against the test's own SQL over the demo county, written here from
the definitions (not the module's queries), as at a fixed moment of the demo's last day; the page
is driven in real Chromium at 1920 x 1080 against a live server, and must show the API's figures,
in Chinese, with its map's incidents, under its Content-Security-Policy, refreshing by itself.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import text

from . import browser as chromium
from .browser import WALL, needs_chromium, screenshot
from .conftest import FIGURES, live_server, signed_in, token_for

browser, new_page = chromium.browser, chromium.new_page  # the fixtures, found by name

CST = timezone(timedelta(hours=8))
COUNTY, CITY = "511421000000", "511400000000"
AT = "2026-11-15T20:00:00"  # the demo's incidents run from 2025-11-17 to 2026-11-15
NOW = datetime(2026, 11, 15, 20, tzinfo=CST)
# The six spans at AT, written out: today, yesterday to the same hour, the same day a year ago;
# this month, last month over the same elapsed time, the same days a year ago.
SPANS = {
    "today": {
        "current": (datetime(2026, 11, 15, tzinfo=CST), NOW),
        "previous": (datetime(2026, 11, 14, tzinfo=CST), datetime(2026, 11, 14, 20, tzinfo=CST)),
        "last_year": (datetime(2025, 11, 15, tzinfo=CST), datetime(2025, 11, 15, 20, tzinfo=CST)),
    },
    "month": {
        "current": (datetime(2026, 11, 1, tzinfo=CST), NOW),
        "previous": (datetime(2026, 10, 1, tzinfo=CST), datetime(2026, 10, 15, 20, tzinfo=CST)),
        "last_year": (datetime(2025, 11, 1, tzinfo=CST), datetime(2025, 11, 15, 20, tzinfo=CST)),
    },
}
COUNTED = "status NOT IN ('rejected', 'merged')"
MEASURES = {
    "received": f"{COUNTED} AND reported_at >= :start AND reported_at < :end",
    "closed": "status = 'closed' AND closed_at >= :start AND closed_at < :end",
    # the deadline fell in the span and the case was not resolved by it
    "overdue": f"{COUNTED} AND deadline >= :start AND deadline < :end AND (resolved_at IS NULL OR resolved_at > deadline)",
}
BEING_HANDLED = "status IN ('dispatched', 'accepted', 'in_progress')"
CJK = re.compile(r"[\u4e00-\u9fff]")


def count(engine, where: str, **params) -> int:
    with engine.connect() as c:
        return c.execute(text(f"SELECT count(*) FROM incidents WHERE {where}"), params).scalar()


@pytest.fixture(scope="module")
def towns(engine) -> tuple[str, str]:
    with engine.connect() as c:
        return tuple(
            c.execute(text("SELECT town_code FROM incidents GROUP BY 1 ORDER BY count(*) DESC LIMIT 2")).scalars()
        )


@pytest.fixture(scope="module")
def county(demo_url):
    """A county leader's client sending no Accept-Language: a reader who gets Chinese."""
    with signed_in(demo_url, "leader", COUNTY, accept_language=None, expensive_per_minute=10_000) as client:
        yield client


@pytest.fixture(scope="module")
def summary(county) -> dict:
    county.get("/wall/summary", params={"at": AT})  # warm: the first request resolves the user
    started = time.perf_counter()
    answer = county.get("/wall/summary", params={"at": AT})
    FIGURES["wall summary"] = f"{(time.perf_counter() - started) * 1000:.0f} ms for the demo county (one request)"
    assert answer.status_code == 200, answer.text
    return answer.json()


# -- the API --------------------------------------------------------------------------------------


def test_figures_are_the_counts_of_their_definitions(engine, summary):
    assert summary["at"] == NOW.isoformat() and summary["unit"] == "town"
    for period, spans in SPANS.items():
        figures = summary["figures"][period]
        for which, (start, end) in spans.items():
            assert figures["spans"][which] == {"start": start.isoformat(), "end": end.isoformat()}
            for measure, where in MEASURES.items():
                assert figures[measure][which] == count(engine, where, start=start, end=end), (period, which, measure)
        for measure in MEASURES:
            shown = figures[measure]
            assert shown["current"] > 0 and shown["previous"] > 0, (period, measure)
            assert shown["change"] == pytest.approx(
                (shown["current"] - shown["previous"]) / shown["previous"], abs=1e-4
            )
            # A year before AT the demo had not begun: no base, no 同比 (null, not a division error).
            assert shown["last_year"] == 0 and shown["change_last_year"] is None


def test_the_figures_hold_when_the_spans_lie_apart(engine, county):
    """On the first of a month yesterday is in last month, apart from this month's and last
    month's spans: every span's three counts are still those of their definitions (the wall looks
    for each only where the spans lie, by its index)."""
    answer = county.get("/wall/summary", params={"at": "2026-10-01T10:30:00+08:00"})
    assert answer.status_code == 200, answer.text
    figures = answer.json()["figures"]
    assert figures["today"]["spans"]["previous"]["start"] == "2026-09-30T00:00:00+08:00"
    assert figures["month"]["spans"]["previous"]["start"] == "2026-09-01T00:00:00+08:00"
    checked = 0
    for period in ("today", "month"):
        for which, span in figures[period]["spans"].items():
            start, end = (datetime.fromisoformat(span[edge]) for edge in ("start", "end"))
            for measure, where in MEASURES.items():
                assert figures[period][measure][which] == count(engine, where, start=start, end=end), (
                    period,
                    which,
                    measure,
                )
                checked += figures[period][measure][which]
    assert checked > 0


def test_a_base_of_zero_gives_no_change_and_a_real_base_a_ratio(engine, county):
    """Five days after the demo's end: nothing today nor yesterday (环比 null), but the same day a
    year before had incidents (同比 -100%)."""
    later = county.get("/wall/summary", params={"at": "2026-11-20T12:00:00+08:00"}).json()["figures"]["today"]
    base = count(
        engine,
        MEASURES["received"],
        start=datetime(2025, 11, 20, tzinfo=CST),
        end=datetime(2025, 11, 20, 12, tzinfo=CST),
    )
    assert base > 0
    assert later["received"] == {
        "current": 0,
        "previous": 0,
        "last_year": base,
        "change": None,
        "change_last_year": -1.0,
    }


def test_open_overdue_cases_by_town_are_those_sla_counts(engine, county, summary):
    with engine.connect() as c:
        expected = dict(
            c.execute(
                text(f"""SELECT town_code, count(*) FROM incidents
                          WHERE {BEING_HANDLED} AND deadline < :at AND village_code IS NOT NULL GROUP BY 1"""),
                {"at": NOW},
            ).all()
        )
    shown = summary["overdue_by_unit"]
    assert {u["code"]: u["overdue"] for u in shown["units"]} == expected
    assert [u["overdue"] for u in shown["units"]] == sorted(expected.values(), reverse=True)
    assert all(CJK.search(u["name"]) for u in shown["units"])
    assert shown["total"] == sum(expected.values()) == county.get("/sla", params={"at": AT}).json()["overdue"]


def test_rankings_are_this_months_rates_of_the_towns(engine, summary):
    with engine.connect() as c:
        rows = c.execute(
            text(f"""SELECT town_code, count(*), count(*) FILTER (WHERE status = 'closed'),
                            count(*) FILTER (WHERE status IN ('resolved', 'closed')),
                            count(*) FILTER (WHERE deadline IS NOT NULL),
                            count(*) FILTER (WHERE deadline < coalesce(resolved_at, :end))
                       FROM incidents WHERE {COUNTED} AND reported_at >= :start AND reported_at < :end
                        AND town_code IS NOT NULL GROUP BY 1"""),
            dict(zip(("start", "end"), SPANS["month"]["current"])),
        ).all()
    expected = {
        "closed_rate": {r[0]: (r[2], r[1]) for r in rows},
        "handled_rate": {r[0]: (r[3], r[1]) for r in rows},
        "overdue_rate": {r[0]: (r[5], r[4]) for r in rows},
    }
    for metric, counts in expected.items():
        ranked = summary["rankings"][metric]
        assert {r["code"]: (r["count"], r["base"]) for r in ranked} == counts, metric
        rates = [r["rate"] for r in ranked]
        assert rates == sorted(rates, reverse=metric != "overdue_rate"), metric
        assert ranked[0]["rank"] == 1 and all(r["rate"] == pytest.approx(r["count"] / r["base"]) for r in ranked)


def test_red_cases_are_the_open_red_ones_newest_first(engine, summary):
    with engine.connect() as c:
        rows = c.execute(
            text("""SELECT id, deadline < :at AND status IN ('dispatched', 'accepted', 'in_progress')
                      FROM incidents WHERE risk_colour = 'red' AND reported_at < :at
                       AND status IN ('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')
                     ORDER BY reported_at DESC, id DESC"""),
            {"at": NOW},
        ).all()
    red = summary["red_cases"]
    assert red["total"] == len(rows) > 10
    assert [(c["id"], c["overdue"]) for c in red["cases"]] == [(i, bool(o)) for i, o in rows[:10]]
    assert not {"description", "reporter", "reporter_phone"} & set(red["cases"][0])  # a room sees the wall


def test_the_map_holds_todays_incidents_as_points(engine, county, summary):
    with engine.connect() as c:
        today = dict(
            c.execute(
                text(f"""SELECT id, ARRAY[ST_X(geom), ST_Y(geom)] FROM incidents
                          WHERE {MEASURES["received"]}"""),
                dict(zip(("start", "end"), SPANS["today"]["current"])),
            ).all()
        )
    recent = summary["recent"]
    assert recent["type"] == "FeatureCollection" and recent["metadata"]["datum"] == "wgs84"
    assert {f["id"] for f in recent["features"]} == set(today) and len(today) == summary["figures"]["today"][
        "received"
    ]["current"]
    for feature in recent["features"][:50]:
        assert feature["geometry"]["coordinates"] == pytest.approx(today[feature["id"]], abs=1e-6)
        assert {"category", "status", "risk_colour", "reported_at"} <= set(feature["properties"])
    # On a GCJ-02 basemap the points move by its offset (hundreds of metres), and the limit holds.
    moved = county.get("/wall/summary", params={"at": AT, "datum": "gcj02", "recent_limit": 5}).json()["recent"]
    assert len(moved["features"]) == 5 and moved["metadata"]["truncated"]
    for feature in moved["features"]:
        dx, dy = (a - b for a, b in zip(feature["geometry"]["coordinates"], today[feature["id"]]))
        assert 0.0005 < abs(dx) + abs(dy) < 0.02


def test_a_town_user_sees_only_their_town(engine, demo_url, towns):
    own, other = towns
    with signed_in(demo_url, "dispatcher", own, expensive_per_minute=10_000) as client:
        body = client.get("/wall/summary", params={"at": AT}).json()
    assert body["unit"] == "village" and body["jurisdiction"]["code"] == own
    start, end = SPANS["today"]["current"]
    received = f"{MEASURES['received']} AND town_code = :town"
    assert body["figures"]["today"]["received"]["current"] == count(engine, received, start=start, end=end, town=own)
    units = {u["code"] for u in body["overdue_by_unit"]["units"]}
    units |= {r["code"] for m in ("closed_rate", "handled_rate", "overdue_rate") for r in body["rankings"][m]}
    assert units and all(code[:9] == own[:9] for code in units)
    assert body["red_cases"]["cases"] and {c["town_code"] for c in body["red_cases"]["cases"]} == {own}
    ids = [f["id"] for f in body["recent"]["features"]]
    assert ids and count(engine, "id = ANY(:ids) AND town_code <> :town", ids=ids, town=own) == 0
    assert other not in str(body)


def test_a_city_user_sees_its_counties(demo_url, summary):
    """The demo database holds one county of 眉山市 (test_city.py loads more, too slowly to repeat
    here): a city user gets the same figures, broken down by county instead of by town."""
    with signed_in(demo_url, "leader", CITY, expensive_per_minute=10_000) as client:
        body = client.get("/wall/summary", params={"at": AT}).json()
    assert body["unit"] == "county" and body["jurisdiction"]["level"] == "city"
    assert body["figures"] == summary["figures"]
    (unit,) = body["overdue_by_unit"]["units"]
    assert (
        unit["code"] == COUNTY and unit["name"] == "仁寿县" and unit["overdue"] == summary["overdue_by_unit"]["total"]
    )
    assert [r["code"] for r in body["rankings"]["closed_rate"]] == [COUNTY]


def test_bad_input_is_a_clear_422_in_the_readers_language(county, demo_url):
    answer = county.get("/wall/summary", params={"at": "yesterday-ish"})
    assert answer.status_code == 422 and answer.json()["field"] == "at"
    assert CJK.search(answer.json()["message"]) and "yesterday-ish" in answer.json()["message"]
    english = county.get("/wall/summary", params={"at": "2026-13-45"}, headers={"Accept-Language": "en"})
    assert english.status_code == 422 and "is not a time" in english.json()["message"]
    assert county.get("/wall/summary", params={"at": "0001-03-01T10:00:00"}).json()["field"] == "at"
    assert county.get("/wall/summary", params={"datum": "klingon"}).json()["field"] == "datum"
    with signed_in(demo_url, "grid_worker", COUNTY) as worker:  # no analysis.read
        assert worker.get("/wall/summary").status_code == 403


# -- the page -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(module_demo_copy_url):
    with live_server(module_demo_copy_url) as url:
        yield url


@pytest.fixture(scope="module")
def wall_token(module_demo_copy_url) -> str:
    return token_for(module_demo_copy_url, "admin", COUNTY)


def api_summary(server: str, token: str) -> dict:
    answer = httpx.get(
        f"{server}/wall/summary", params={"at": AT, "red_limit": 6}, headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def open_wall(page, server: str, refresh: int = 3600) -> None:
    page.goto(f"{server}/wall?at={AT}&refresh={refresh}")
    page.wait_for_function("() => window.wall && window.wall.refreshes >= 1", timeout=60_000)


def number(text_: str) -> int:
    return int(text_.replace(",", "").strip())


def percent(ratio: float | None) -> str:
    return "无基数" if ratio is None else f"{abs(ratio) * 100:,.1f}%"


@needs_chromium
def test_the_page_shows_the_apis_figures_in_chinese_with_its_map(new_page, server, wall_token):
    page = new_page(wall_token, viewport=WALL)
    open_wall(page, server)
    expected = api_summary(server, wall_token)
    for period in ("today", "month"):
        for measure in ("received", "closed", "overdue"):
            tile = page.locator(f'[data-kpi="{period}.{measure}"]')
            figure = expected["figures"][period][measure]
            assert number(tile.locator(".value").inner_text()) == figure["current"], (period, measure)
            assert tile.locator('[data-compare="previous"] .pct').inner_text() == percent(figure["change"])
            assert tile.locator('[data-compare="last_year"] .pct').inner_text() == percent(figure["change_last_year"])
    size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.kpi .value')).fontSize)")
    assert size >= 48
    # Everything fits the screen: no panel cut short (they hide what overflows).
    cut = page.evaluate(
        "() => [...document.querySelectorAll('.panel, .kpi, #wall-red-list, .bars, .ranking')].filter((p) => p.scrollHeight > p.clientHeight + 1).map((p) => p.id || p.className)"
    )
    assert cut == []
    bars = page.locator("#wall-overdue-bars .bar-row")
    shown = [
        (bars.nth(i).get_attribute("data-code"), number(bars.nth(i).locator(".bar-value").inner_text()))
        for i in range(bars.count())
    ]
    assert shown == [(u["code"], u["overdue"]) for u in expected["overdue_by_unit"]["units"][: len(shown)]] and shown
    for metric in ("closed_rate", "handled_rate", "overdue_rate"):
        codes = page.locator(f'.ranking[data-metric="{metric}"] li').evaluate_all(
            "(items) => items.map((i) => i.dataset.code)"
        )
        assert codes == [r["code"] for r in expected["rankings"][metric][: len(codes)]] and codes
    red = page.locator("#wall-red-list li").evaluate_all("(items) => items.map((i) => Number(i.dataset.id))")
    assert red == [c["id"] for c in expected["red_cases"]["cases"]]

    words = page.locator("body").inner_text()
    for label in (
        "今日受理",
        "本月结案",
        "环比",
        "同比",
        "在办超期案件",
        "结案率",
        "红色风险在办案件",
        "今日事件",
        "更新于",
    ):
        assert label in words, label
    codes = {"reported", "dispatched", "accepted", "in_progress", "town", "village", "red", "wall."}
    codes |= {c["category"] for c in expected["red_cases"]["cases"]}
    assert not [code for code in codes if code in words], "a code reached the screen"

    # The map draws exactly today's incidents.
    ids = {f["id"] for f in expected["recent"]["features"]}
    page.wait_for_function("(n) => window.WallMap.drawn().length >= n", arg=len(ids), timeout=60_000)
    assert set(page.evaluate("() => window.WallMap.drawn()")) == ids
    screenshot(page, "wall")

    assert page.evaluate("() => window.cspViolations") == [] and page.csp_console == [] and page.errors == []
    outside = [r.url for r in page.requests if not r.url.startswith((server, "data:", "blob:"))]
    assert outside == []


@needs_chromium
def test_the_page_refreshes_itself(new_page, server, wall_token, module_demo_copy_url):
    """With a refresh every 2 s, a case recorded meanwhile shows in today's figure by itself; the
    screen becoming visible again refreshes at once."""
    page = new_page(wall_token, viewport=WALL)
    calls = []
    page.on("request", lambda r: calls.append(r.url) if "/wall/summary" in r.url else None)
    open_wall(page, server, refresh=2)
    before = number(page.locator('[data-kpi="today.received"] .value').inner_text())
    with signed_in(module_demo_copy_url, "admin", COUNTY) as client:
        incident = client.get("/incidents", params={"limit": 1}).json()["items"][0]["location"]
        recorded = client.post(
            "/incidents",
            json={
                "external_id": "WALL-REFRESH-1",
                "lon": incident["lon"],
                "lat": incident["lat"],
                "category": "dispute",
                "source": "hotline_12345",
                "reported_at": "2026-11-15T19:30:00+08:00",
            },
        )
        assert recorded.status_code in (200, 201), recorded.text
    started = time.monotonic()
    page.wait_for_function(
        "(n) => Number(document.querySelector('[data-kpi=\"today.received\"] .value').textContent.replace(/,/g, '')) === n",
        arg=before + 1,
        timeout=20_000,
    )
    FIGURES["wall refresh"] = (
        f"a new case on the screen {time.monotonic() - started:.1f} s after it was recorded (refresh 2 s)"
    )
    assert len(calls) >= 2 and page.evaluate("() => window.wall.failures") == 0

    quiet = new_page(wall_token, viewport=WALL)
    open_wall(quiet, server)
    quiet.evaluate("() => document.dispatchEvent(new Event('visibilitychange'))")
    quiet.wait_for_function("() => window.wall.refreshes >= 2", timeout=20_000)


@needs_chromium
def test_the_page_speaks_english_through_the_switch(new_page, server, wall_token):
    page = new_page(wall_token, viewport=WALL, language="en")
    open_wall(page, server)
    words = page.locator("body").inner_text()
    for label in ("Received today", "vs yesterday", "vs last year", "Open cases overdue, by", "Closure rate"):
        assert label in words, label
    assert not CJK.search(page.locator("#wall-kpis").inner_text())
