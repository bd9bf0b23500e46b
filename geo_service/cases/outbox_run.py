"""The outbox as a service: deliver what is due and queue reminders of deadlines drawing near, on
a schedule, until stopped (``geo-service outbox run``; SIGTERM finishes the message in hand).

One round sends every message due (each in its own transaction, as ``deliver`` does); reminders
are queued every ``remind_every_s``. Several runners may share one database: a message is locked
while it is sent (SKIP LOCKED), and a deadline is reminded once (``incidents.reminded_deadline``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from geo_service.cases.outbox import Sender, deliver
from geo_service.cases.sla import remind_due
from geo_service.i18n import t


@dataclass
class Totals:
    rounds: int = 0
    sent: int = 0
    failed: int = 0
    reminded: int = 0


def run(
    engine: Engine,
    sender: Sender,
    *,
    zone: str,
    remind_within: timedelta,
    interval_s: float = 10.0,
    remind_every_s: float = 600.0,
    stop: threading.Event | None = None,
    duration_s: float | None = None,
    report: Callable[[str], None] = lambda line: None,
) -> Totals:
    """Deliver and remind until ``stop`` is set or ``duration_s`` has passed; returns the totals."""
    stop = stop or threading.Event()
    totals = Totals()
    started = time.monotonic()
    next_reminder = started
    while not stop.is_set():
        now = time.monotonic()
        if now >= next_reminder:
            with engine.begin() as connection:
                reminded = remind_due(connection, None, remind_within, zone)
            totals.reminded += reminded
            next_reminder = now + remind_every_s
            if reminded:
                report(t("{count:,} cases reminded of their deadlines", count=reminded))
        done = deliver(engine, sender, zone=zone)
        totals.rounds += 1
        totals.sent += done.sent
        totals.failed += done.failed
        if done.sent or done.failed:
            report(t("{sent:,} sent, {failed:,} failed (to be retried)", sent=done.sent, failed=done.failed))
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        wait = interval_s
        if duration_s is not None:
            wait = min(wait, max(duration_s - (time.monotonic() - started), 0))
        stop.wait(wait)
    return totals
