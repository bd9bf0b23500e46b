"""The text of a notification: the template of its kind (the ``notice_templates`` rule table, an
administrator's to edit) filled in with the case's number, place, category, risk colour and
deadline, in the county's time. A reporter's name or phone is never among the values: a text
message to an officer is no place for a citizen's personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases.notes import note_in
from geo_service.i18n import Language, label
from geo_service.rules.tables import NOTICE_FIELDS

DEFAULT_KIND = "default"

# The message with the names of its case's places and category, locked for sending.
DUE_MESSAGE = text("""
    SELECT o.id, o.kind, o.payload, o.attempts,
           g.name AS grid_name, v.name AS village_name, tw.name AS town_name,
           c.name_zh AS category_zh, c.name_en AS category_en, r.name_zh AS role_zh, r.name_en AS role_en
      FROM outbox o
      LEFT JOIN incidents i ON i.id = o.incident_id AND i.county_code = o.county_code
      LEFT JOIN grids g ON g.id = i.grid_id
      LEFT JOIN admin_units v ON v.version_id = i.boundary_version_id AND v.code = i.village_code
      LEFT JOIN admin_units tw ON tw.version_id = i.boundary_version_id AND tw.code = i.town_code
      LEFT JOIN categories c ON c.code = i.category
      LEFT JOIN roles r ON r.code = o.role
     WHERE o.sent_at IS NULL AND o.attempts < :max AND o.next_attempt_at <= now()
     ORDER BY o.next_attempt_at, o.id
     LIMIT 1
       FOR UPDATE OF o SKIP LOCKED
""")


def templates(connection: Connection) -> dict[str, dict[str, str]]:
    """``{kind: {"zh": text, "en": text}}`` from the rule table."""
    rows = connection.execute(text("SELECT kind, text_zh, text_en FROM notice_templates"))
    return {kind: {"zh": zh, "en": en} for kind, zh, en in rows}


def _when(value: Any, zone: str, language: Language) -> str:
    if not value:
        return "—"
    moment = datetime.fromisoformat(str(value)).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y年%m月%d日 %H:%M" if language == "zh" else "%Y-%m-%d %H:%M")


def notice_text(row: Any, known: dict[str, dict[str, str]], zone: str, language: Language = "zh") -> str:
    """The message ``row`` (a DUE_MESSAGE row) in words, from its kind's template or the default."""
    payload = row.payload
    template = (known.get(row.kind) or known.get(DEFAULT_KIND) or {}).get(language)
    if not template:
        template = "{case} {action} {status} {place} {deadline}"
    separator = "" if language == "zh" else ", "
    place = separator.join(n for n in (row.town_name, row.village_name, row.grid_name) if n)
    values = {
        "to": payload.get("to") or "",
        "role": (row.role_zh if language == "zh" else row.role_en) or payload.get("role") or "",
        "case": payload.get("external_id") or str(payload.get("incident_id") or ""),
        "category": (row.category_zh if language == "zh" else row.category_en) or payload.get("category") or "",
        "risk": label(payload.get("risk_colour") or "", language, "risk"),
        "place": place or payload.get("grid_code") or "",
        "deadline": _when(payload.get("deadline"), zone, language),
        "note": note_in(payload.get("note"), payload.get("note_t"), language) or "",
        "action": label(row.kind, language, "action"),
        "status": label(payload.get("status") or "", language, "status"),
    }
    assert set(values) == set(NOTICE_FIELDS)
    return template.format(**values).strip()
