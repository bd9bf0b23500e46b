"""The transactional outbox: every message is written in the transaction of the change that
causes it, and delivered afterwards by a sender, with retries.

So no change is committed without its message, and no message exists for a change that was
rolled back. Each message is delivered in a transaction of its own and marked sent there; a crash
after the gateway accepted it but before the mark is committed sends it once more, with the same
``id``, which the receiver uses as an idempotency key to drop the copy.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.cases.notes import kept_note
from geo_service.cases.notices import DUE_MESSAGE, notice_text, templates
from geo_service.db.partitions import generic_key_checks
from geo_service.i18n import Language
from geo_service.times import DEFAULT_ZONE

MAX_ATTEMPTS = 8


def bound_payload(
    kind: str, case: str = "i.", person: str = "o.", role: str = "b.role", note: str = "", note_t: str = "NULL"
) -> str:
    """SQL for the message to a person bound to a case: the one statement of what it says. The
    case's columns are read with the prefix ``case``, the person's (name, phone) with ``person``;
    ``kind``, ``role``, ``note`` and ``note_t`` (what is kept of a note the service wrote,
    ``geo_service.cases.notes``) are SQL expressions."""
    return f"""jsonb_build_object(
               'kind', {kind}, 'incident_id', {case}id, 'external_id', {case}external_id, 'to', {person}name,
               'phone', {person}phone, 'role', {role}, 'category', {case}category,
               'risk_colour', {case}risk_colour, 'grid_code', {case}grid_code, 'status', {case}status,
               'tier', {case}tier, 'deadline', {case}deadline, 'note', {note}, 'note_t', {note_t})"""


NOTIFY_BOUND = text(f"""
    INSERT INTO outbox (incident_id, county_code, kind, officer_id, role, payload)
    SELECT i.id, i.county_code, :kind, o.id, b.role, {bound_payload(":kind", note="CAST(:note AS text)", note_t="CAST(:note_t AS jsonb)")}
      FROM incident_officers b
      JOIN incidents i ON i.id = b.incident_id
      JOIN officers o ON o.id = b.officer_id
     WHERE b.incident_id = ANY(:ids) AND b.released_at IS NULL AND b.tier = i.tier
     ORDER BY i.id, b.position, o.code
""")


def _note_params(note: str | None) -> dict:
    """A message's note as its payload keeps it: the English, and what renders it in Chinese."""
    kept = kept_note(note)
    return {"note": None if note is None else str(note), "note_t": None if kept is None else json.dumps(kept)}


def notify_bound(connection: Connection, incident_ids: list[int], kind: str, note: str | None = None) -> int:
    """Queue a message to every person bound to each case at its tier (a vacancy gets none).

    Runs in the caller's transaction; returns the number of messages queued.
    """
    with generic_key_checks(connection):
        return connection.execute(
            NOTIFY_BOUND, {"ids": list(incident_ids), "kind": kind, **_note_params(note)}
        ).rowcount


# Each department person bound to the cases, one message each, the head first.
NOTIFY_STAFF = text("""
    INSERT INTO outbox (incident_id, county_code, kind, payload)
    SELECT i.id, i.county_code, :kind,
           jsonb_build_object(
               'kind', :kind, 'incident_id', i.id, 'external_id', i.external_id, 'to', s.name,
               'phone', p.phone, 'role', d.name_zh, 'department', d.code, 'duty', s.duty,
               'category', i.category, 'matter', i.matter, 'risk_colour', i.risk_colour,
               'grid_code', i.grid_code, 'status', i.status, 'tier', i.tier, 'deadline', i.deadline,
               'note', CAST(:note AS text), 'note_t', CAST(:note_t AS jsonb))
      FROM incident_staff s
      JOIN incidents i ON i.id = s.incident_id AND i.county_code = s.county_code
      JOIN department_staff p ON p.id = s.staff_id
      JOIN departments d ON d.code = p.department
     WHERE s.incident_id = ANY(:ids) AND s.released_at IS NULL
     ORDER BY i.id, array_position(ARRAY['head', 'member'], s.duty), s.name
""")


def notify_staff(connection: Connection, incident_ids: list[int], kind: str, note: str | None = None) -> int:
    """Queue a message to each department person bound to the cases (the outbox's rows have no
    officer: the person's name, phone and department are in the payload). Returns messages queued."""
    with generic_key_checks(connection):
        return connection.execute(
            NOTIFY_STAFF, {"ids": list(incident_ids), "kind": kind, **_note_params(note)}
        ).rowcount


class Sender(Protocol):
    def send(self, message: dict) -> None:
        """Deliver one message or raise."""


class LogSender:
    """The default sender: one JSON line per message, in a log file. A log file is not a channel
    for personal data, so the recipient's phone is masked there; a gateway gets the number."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, message: dict) -> None:
        from geo_service.auth.personal import mask_phone

        message = {**message, "phone": mask_phone(message.get("phone"))}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(message, ensure_ascii=False, default=str) + "\n")


class WebhookSender:
    """POSTs each message as JSON to a URL (an SMS gateway, say), with its id as idempotency key."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout

    def send(self, message: dict) -> None:
        body = json.dumps(message, ensure_ascii=False, default=str).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Idempotency-Key": f"outbox-{message['id']}"},
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            if not 200 <= response.status < 300:
                raise RuntimeError(f"the gateway answered {response.status}")


@dataclass(frozen=True)
class Delivery:
    sent: int
    failed: int


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 30 s, 1 min, 2 min, ... up to an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(
    engine: Engine, sender: Sender, limit: int = 1000, *, zone: str = DEFAULT_ZONE, language: Language = "zh"
) -> Delivery:
    """Send up to ``limit`` messages that are due, each in its own transaction, in words from the
    templates of their kinds (``geo_service.cases.notices``); the text sent is kept on the message."""
    sent = failed = 0
    with engine.connect() as connection:
        known = templates(connection)
    for _ in range(limit):
        with engine.begin() as connection:
            row = connection.execute(DUE_MESSAGE, {"max": MAX_ATTEMPTS}).first()
            if row is None:
                break
            words = notice_text(row, known, zone, language)
            try:
                # What renders a note is the service's own business: a receiver gets the words.
                shown = {key: value for key, value in row.payload.items() if key != "note_t"}
                sender.send({"id": row.id, **shown, "text": words})
            except (OSError, RuntimeError, urllib.error.URLError) as exc:
                connection.execute(
                    text("""
                    UPDATE outbox SET attempts = attempts + 1, next_attempt_at = now() + :wait, last_error = :error,
                           text = :text
                     WHERE id = :id
                """),
                    {"id": row.id, "wait": backoff(row.attempts + 1), "error": str(exc)[:500], "text": words},
                )
                failed += 1
                continue
            connection.execute(
                text("UPDATE outbox SET sent_at = now(), attempts = attempts + 1, text = :text WHERE id = :id"),
                {"id": row.id, "text": words},
            )
            sent += 1
    return Delivery(sent, failed)
