"""Notes the service writes on a case's timeline, shown in the reader's language.

The timeline keeps each such note in English (its ``note``) with its template and values (in the
event's ``data``, ``note_t``: ``geo_service.cases.writer.note_data``); a reader of Chinese sees it
rendered from the catalogue. Notes people typed are shown as they typed them.
"""

from __future__ import annotations

from geo_service.i18n import Language, Message, render


def localize_timeline(incident: dict, language: Language) -> dict:
    """``incident`` with each service-written note of its timeline in ``language`` (in place)."""
    for event in incident.get("timeline", []):
        kept = event.pop("note_t", None)
        if kept and language != "en":
            try:
                event["note"] = render(Message(kept["template"], kept.get("params") or {}), language)
            except (KeyError, IndexError, ValueError, TypeError):  # a note kept by an older template
                pass
    return incident
