"""The jurisdiction matrix's probes of a case's photos and videos (``geo_service.api.attachments``):
another town's case has an attachment, and a town's users can neither list it, read it, nor add
to the case."""

from __future__ import annotations

import io

from sqlalchemy import text

NOWHERE = 999_999_999_999  # an attachment id no database here reaches


def _planted(client, incident_id: int) -> int:
    """An attachment of another town's case, recorded straight in the database (its file is not
    needed: a read that got past the jurisdiction would say the file is missing, not that the
    attachment does not exist)."""
    with client.app.state.engine.begin() as connection:
        return connection.execute(
            text("""
            INSERT INTO incident_attachments (incident_id, county_code, sha256, media_type, size_bytes, uploaded_by)
            SELECT id, county_code, repeat('ab', 32), 'image/jpeg', 1, 'jurisdiction matrix'
              FROM incidents WHERE id = :id
            ON CONFLICT (incident_id, sha256) DO UPDATE SET size_bytes = EXCLUDED.size_bytes
            RETURNING id"""),
            {"id": incident_id},
        ).scalar_one()


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(out, "PNG")
    return out.getvalue()


def probe_attachments(client, scope, other):
    from ..test_jurisdiction_matrix import refused_as_unknown

    attachment = _planted(client, other.incident)
    headers = {"Accept-Language": "en"}
    read, unknown = (
        client.get(f"/attachments/{attachment}", headers=headers),
        client.get(f"/attachments/{NOWHERE}", headers=headers),
    )
    assert read.status_code == 404, read.text
    # Word for word the answer for an attachment that does not exist.
    assert read.json()["message"] == unknown.json()["message"].replace(str(NOWHERE), str(attachment))
    listed = client.get(f"/attachments/incidents/{other.incident}")
    assert refused_as_unknown(listed), listed.text
    added = client.post(f"/attachments/incidents/{other.incident}", files={"file": ("a.png", _png(), "image/png")})
    assert refused_as_unknown(added), added.text
    with client.app.state.engine.connect() as connection:
        held = connection.execute(
            text("SELECT count(*) FROM incident_attachments WHERE incident_id = :id"), {"id": other.incident}
        ).scalar()
    assert held == 1  # the planted one only


PROBES = {
    "attachments": (
        probe_attachments,
        [
            "GET /attachments/{attachment_id}",
            "GET /attachments/incidents/{incident_id}",
            "POST /attachments/incidents/{incident_id}",
        ],
    ),
}
# Reads a file the user sends and answers where it was taken; keeps nothing and reads no place's data.
NO_PLACE_DATA = {"POST /attachments/position"}
