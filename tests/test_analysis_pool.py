"""The analysis pool: analyses run in processes of their own, answer as they did in the service,
bring their errors back as the same 4xx, refuse with a 503 when full, and start no process until
one is asked for."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import pickle
import threading
import time

import pytest
from fastapi.testclient import TestClient

from geo_service.api.analysis_pool import AnalysisPool, warm
from geo_service.api.app import create_app
from geo_service.errors import GeoServiceError, InvalidInput, NotFound, Unavailable
from geo_service.i18n import render, t
from geo_service.settings import Settings

from .conftest import FIGURES, signed_in

YEAR = {"start": "2025-11-17", "end": "2026-11-16"}


# Jobs for the pool: module-level, so that a pool process finds them by name.
def failing_job(engine, settings, kind: str) -> dict:
    if kind == "invalid":
        raise InvalidInput(
            t("size_m must be between {low:g} and {high:g} metres, not {size_m!r}", low=100, high=5000, size_m=5.0),
            field="size_m",
        )
    raise NotFound(t("hexagons have no residents: use value=count for unit=hex"), field="value", hint=["a", 1])


def sleeping_job(engine, settings, seconds: float) -> dict:
    time.sleep(seconds)
    return {"slept": seconds}


def dying_job(engine, settings) -> dict:
    os._exit(1)  # as the kernel's out-of-memory killer would end it


def settings_job(engine, settings) -> dict:
    return {"timezone": settings.place.timezone, "url": str(engine.url)}


def _pool_settings(url: str, **serving) -> Settings:
    return Settings(database_url=url, **serving)


def test_an_error_of_the_library_pickles_with_its_translatable_message():
    error = InvalidInput(
        t(
            "the span is empty: {prefix}start {value} is not before {prefix}end {value2}",
            prefix="",
            value="a",
            value2="b",
        ),
        field="start",
        retry_after=3,
    )
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InvalidInput and back.to_dict() == error.to_dict()
    assert render(back.message, "zh") == render(error.message, "zh") != str(error.message)


@pytest.mark.parametrize("kind", ["invalid", "not_found"])
def test_an_error_raised_in_a_pool_process_is_raised_here_the_same(tiny_url, kind):
    pool = AnalysisPool(_pool_settings(tiny_url))
    try:
        with pytest.raises(GeoServiceError) as raised:
            asyncio.run(pool.run(failing_job, kind=kind))
    finally:
        pool.close()
    expected = InvalidInput if kind == "invalid" else NotFound
    assert type(raised.value) is expected
    if kind == "not_found":
        assert raised.value.to_dict() == {
            "error": "NotFound",
            "message": "hexagons have no residents: use value=count for unit=hex",
            "field": "value",
            "hint": ["a", 1],
        }
    assert render(raised.value.message, "zh") != str(raised.value.message)  # still translatable


def test_pool_processes_work_under_the_settings_of_their_app(tiny_url):
    pool = AnalysisPool(_pool_settings(tiny_url, timezone="Asia/Urumqi"))
    try:
        answer = json.loads(asyncio.run(pool.run(settings_job)))
    finally:
        pool.close()
    assert answer["timezone"] == "Asia/Urumqi"
    assert answer["url"].rsplit("/", 1)[1] == tiny_url.rsplit("/", 1)[1]


def test_a_full_pool_answers_503_with_retry_after_in_chinese(tiny_url):
    with signed_in(tiny_url, analysis_workers=1, analysis_queue=0, accept_language=None) as client:
        pool = client.app.state.analysis_pool
        assert pool.capacity == 1
        held = threading.Thread(target=lambda: asyncio.run(pool.run(sleeping_job, seconds=3)))
        held.start()
        deadline = time.monotonic() + 10
        while pool.admitted < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        refused = client.get("/analysis/counts", params={"unit": "town"})
        held.join()
        after = client.get("/analysis/counts", params={"unit": "town"})
    assert refused.status_code == 503, refused.text
    assert int(refused.headers["retry-after"]) >= 1
    body = refused.json()
    assert body["error"] == "Unavailable" and "请" in body["message"] and "秒后重试" in body["message"]
    assert after.status_code == 200, after.text


def test_an_app_starts_no_process_until_an_analysis_is_asked_and_stops_them_at_shutdown(tiny_url):
    before = {p.pid for p in multiprocessing.active_children()}
    with signed_in(tiny_url) as client:
        assert client.get("/auth/me").status_code == 200
        assert not client.app.state.analysis_pool.started
        assert {p.pid for p in multiprocessing.active_children()} - before == set()
        assert client.get("/analysis/counts", params={"unit": "town"}).status_code == 200
        assert client.app.state.analysis_pool.started
        workers = {p.pid for p in multiprocessing.active_children()} - before
        assert len(workers) == 1
    assert not client.app.state.analysis_pool.started
    assert workers.isdisjoint(p.pid for p in multiprocessing.active_children())


def test_a_served_app_starts_and_warms_its_pool_with_it(tiny_url):
    app = create_app(_pool_settings(tiny_url), start_analysis_pool=True)
    with TestClient(app):
        assert app.state.analysis_pool.started
    assert not app.state.analysis_pool.started


def test_without_a_pool_analyses_run_in_the_service_and_answer_the_same(demo_url):
    params = {**YEAR, "category": "dispute", "unit": "town"}
    with signed_in(demo_url) as pooled, signed_in(demo_url, analysis_workers=0) as threaded:
        in_pool = pooled.get("/analysis/hotspots", params=params)
        in_threads = threaded.get("/analysis/hotspots", params=params)
        assert not threaded.app.state.analysis_pool.started
    assert in_pool.status_code == in_threads.status_code == 200
    assert in_pool.content == in_threads.content


def test_warming_a_process_is_quick_and_done_once():
    first = warm()
    assert warm() == first
    FIGURES["analysis warm-up"] = f"{first:.2f} s (every kernel once on a 12 x 12 lattice, imports excluded)"


def test_the_503_names_the_cap(tiny_url):
    pool = AnalysisPool(_pool_settings(tiny_url, analysis_workers=0, analysis_queue=0))
    done = threading.Event()

    async def hold_then_ask() -> Unavailable:
        holder = asyncio.create_task(pool.run(sleeping_job, seconds=1))
        while pool.admitted < 1:
            await asyncio.sleep(0.01)
        try:
            await pool.run(sleeping_job, seconds=0)
        except Unavailable as refused:
            await holder
            done.set()
            return refused
        raise AssertionError("the second analysis was admitted")

    refused = asyncio.run(hold_then_ask())
    assert done.is_set() and refused.detail["retry_after"] >= 1
    assert "1 analyses are already running or waiting" in str(refused.message)


def test_the_checks_before_the_pool_still_hold(tiny_url):
    """Permission and the rate of expensive requests are checked in the service, before a process
    is asked for anything."""
    with signed_in(tiny_url, role="grid_worker") as worker:
        refused = worker.get("/analysis/counts", params={"unit": "town"})
        assert refused.status_code == 403 and "analysis.read" in refused.text
        assert not worker.app.state.analysis_pool.started
    with signed_in(tiny_url, expensive_per_minute=2) as client:
        answers = [client.get("/analysis/counts", params={"unit": "town"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1


def test_a_pool_process_that_dies_is_a_503_and_the_next_analysis_gets_a_new_one(tiny_url):
    settings = _pool_settings(tiny_url)
    pool = AnalysisPool(settings)
    try:
        with pytest.raises(Unavailable) as died:
            asyncio.run(pool.run(dying_job))
        assert died.value.detail["retry_after"] >= 1
        assert json.loads(asyncio.run(pool.run(settings_job)))["timezone"] == settings.place.timezone
    finally:
        pool.close()
