"""Notes the service writes on a case (its timeline, its messages), shown in the reader's language.

Such a note is kept in English (the timeline's ``note``, a message's ``note``) with its template
and values beside it (``note_t``: in the event's ``data``, in the message's payload); a reader of
Chinese, and a text message sent in Chinese, get it rendered from the catalogue. Notes people
typed are shown as they typed them.
"""

from __future__ import annotations

import json

from geo_service.i18n import Language, Message, render


def kept_note(note: object) -> dict | None:
    """What is kept of a note beside its English: a ``Message``'s template and values (as JSON
    holds them); None for a note a person typed. Taken before the note goes into a frame, which
    keeps only its text."""
    if not isinstance(note, Message):
        return None
    return {"template": note.template, "params": json.loads(json.dumps(note.params, default=str))}


def note_in(note: str | None, kept: dict | None, language: Language) -> str | None:
    """``note`` in ``language``: rendered from what was ``kept`` of it, or as it is."""
    if not kept or language == "en":
        return note
    try:
        return render(Message(kept["template"], kept.get("params") or {}), language)
    except (KeyError, IndexError, ValueError, TypeError):  # a note kept by an older template
        return note


def localize_timeline(incident: dict, language: Language) -> dict:
    """``incident`` with each service-written note of its timeline in ``language`` (in place)."""
    for event in incident.get("timeline", []):
        kept = event.pop("note_t", None)
        event["note"] = note_in(event.get("note"), kept, language)
    return incident
