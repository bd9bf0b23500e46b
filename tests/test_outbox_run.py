"""``geo-service outbox run``: the notifications' sender as a service, run for a bounded time in a
process of its own against a webhook on loopback, as an SMS gateway would receive them.

What the officers rely on: every message of a new case reaches them by itself, in Chinese, with
the case number, the place, the category and the deadline in county time, and never the
reporter's name or phone; a deadline drawing near is reminded without anyone running a command; a
gateway that fails is recorded per message and retried later; the texts are the administrator's
templates; SIGTERM stops it cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from geo_service.cases.recording import NewIncident, record_incident
from geo_service.db.engine import get_engine
from geo_service.settings import PROJECT_ROOT, Settings

REPORTER = ("王秀英", "13912345678")


class Gateway:
    """A webhook on loopback that keeps what it receives; the first ``fail_first`` posts answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.received: list[dict] = []
        self.fail_first = fail_first
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if gateway.fail_first > 0:
                    gateway.fail_first -= 1
                    self.send_response(500)
                else:
                    gateway.received.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/sms"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def _run(url: str, webhook: str, seconds: float) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.Popen(
        [sys.executable, "-m", "geo_service.cli.main", "outbox", "run", "--interval", "0.3", "--webhook", webhook]
        + ["--for", str(seconds)],
        cwd=PROJECT_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def _new_case(url: str, external_id: str, **fields) -> dict:
    new = NewIncident(
        external_id=external_id,
        lon=104.1,
        lat=30.0,
        category="dispute",
        source="hotline_12345",
        reported_at=datetime.now(UTC) - timedelta(minutes=5),
        reporter_name=REPORTER[0],
        reporter_phone=REPORTER[1],
        description="两户人家因宅基地边界发生争执",
        **fields,
    )
    incident, created = record_incident(get_engine(url), new, actor="tests", settings=Settings(database_url=url))
    assert created
    return incident


@pytest.fixture
def gateway():
    made = Gateway()
    yield made
    made.close()


def test_a_new_case_reaches_its_officers_by_itself_in_chinese(demo_copy_url, gateway):
    engine = get_engine(demo_copy_url)
    incident = _new_case(demo_copy_url, "OUTBOX-RUN-1", risk_colour="red")
    with engine.connect() as connection:
        queued = connection.execute(
            text("SELECT count(*) FROM outbox WHERE incident_id = :id AND sent_at IS NULL"), {"id": incident["id"]}
        ).scalar_one()
        names = connection.execute(
            text("""
            SELECT t.name, v.name FROM incidents i
              JOIN admin_units t ON t.version_id = i.boundary_version_id AND t.code = i.town_code
              JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
             WHERE i.id = :id
        """),
            {"id": incident["id"]},
        ).one()
    assert queued >= 1

    process = _run(demo_copy_url, gateway.url, 4)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert "通知发送服务已停止" in stderr and "outbox stopped" in stderr

    mine = [m for m in gateway.received if m.get("incident_id") == incident["id"]]
    assert len(mine) == queued, stderr
    deadline = datetime.fromisoformat(incident["deadline"]).astimezone(ZoneInfo("Asia/Shanghai"))
    for message in mine:
        words = message["text"]
        assert "OUTBOX-RUN-1" in words and "矛盾纠纷" in words and "红色" in words, words
        assert names[0] in words and names[1] in words, words
        assert deadline.strftime("%Y年%m月%d日 %H:%M") in words, words
        assert REPORTER[0] not in json.dumps(message, ensure_ascii=False)
        assert REPORTER[1] not in json.dumps(message, ensure_ascii=False)
    with engine.connect() as connection:
        stored = connection.execute(
            text("SELECT text, sent_at, attempts FROM outbox WHERE incident_id = :id ORDER BY id"),
            {"id": incident["id"]},
        ).all()
    assert [row.text for row in stored] == [m["text"] for m in sorted(mine, key=lambda m: m["id"])]
    assert all(row.sent_at is not None and row.attempts == 1 for row in stored)
    # Nothing is sent twice: a second run finds nothing of this case to send.
    gateway.received.clear()
    again = _run(demo_copy_url, gateway.url, 1)
    again.communicate(timeout=60)
    assert not [m for m in gateway.received if m.get("incident_id") == incident["id"]]


def test_deadlines_drawing_near_are_reminded_and_a_failing_gateway_is_recorded(demo_copy_url):
    engine = get_engine(demo_copy_url)
    incident = _new_case(demo_copy_url, "OUTBOX-RUN-2")
    with engine.begin() as connection:
        connection.execute(text("UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL"))  # the dispatch is old news
        connection.execute(
            text("UPDATE incidents SET deadline = now() + interval '3 hours', reminded_deadline = NULL WHERE id = :id"),
            {"id": incident["id"]},
        )
    failing = Gateway(fail_first=1)
    try:
        process = _run(demo_copy_url, failing.url, 4)
        _, stderr = process.communicate(timeout=120)
    finally:
        failing.close()
    assert process.returncode == 0, stderr
    with engine.connect() as connection:
        rows = connection.execute(
            text("""
            SELECT kind, text, sent_at, attempts, last_error FROM outbox
             WHERE incident_id = :id AND kind = 'deadline_near' ORDER BY id
        """),
            {"id": incident["id"]},
        ).all()
        events = connection.execute(
            text("SELECT count(*) FROM incident_events WHERE incident_id = :id AND action = 'remind'"),
            {"id": incident["id"]},
        ).scalar_one()
    assert rows and events == 1, stderr
    assert all("到期提醒" in row.text and "OUTBOX-RUN-2" in row.text for row in rows)
    delivered = [m for m in failing.received if m.get("incident_id") == incident["id"]]
    given_up_for_now = [row for row in rows if row.sent_at is None]
    # The gateway refused the first post: that message waits for its retry with the error on it.
    assert len(delivered) + len(given_up_for_now) == len(rows)
    assert all(row.attempts == 1 and "500" in (row.last_error or "") for row in given_up_for_now)


def test_the_texts_are_the_administrators_templates_and_sigterm_stops_it(demo_copy_url, gateway):
    engine = get_engine(demo_copy_url)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE notice_templates SET text_zh = :t WHERE kind = 'dispatch'"),
            {"t": "【县综治中心】请{to}处置{place}的{category}案件{case}，{deadline}前办结"},
        )
    incident = _new_case(demo_copy_url, "OUTBOX-RUN-3")
    process = _run(demo_copy_url, gateway.url, 60)
    started = time.monotonic()
    while not [m for m in gateway.received if m.get("incident_id") == incident["id"]]:
        assert time.monotonic() - started < 30, "nothing delivered in 30 s"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0 and "outbox stopped" in stderr, stderr
    assert time.monotonic() - started < 40
    texts = [m["text"] for m in gateway.received if m.get("incident_id") == incident["id"]]
    assert texts and all(t.startswith("【县综治中心】请") and "OUTBOX-RUN-3" in t for t in texts)
