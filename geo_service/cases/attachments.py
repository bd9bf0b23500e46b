"""Photos and short videos of a case: kept on disk by the hash of their bytes, recorded against
their case in ``incident_attachments`` (migration 0013).

A file is stored once however often it is sent: its name is the SHA-256 of its content
(``<folder>/ab/abcdef...``), written through a temporary file and renamed into place, so two
uploads of the same bytes at once both end with the one complete file. A case holds a file once:
sending it again to the same case (a phone retrying after a lost answer) writes nothing and
answers the attachment already recorded. The file's type is read from its bytes and its size is
bounded while it is copied (``geo_service.cases.attachment_media``).

Files are never deleted here: they are the record of a case. A file whose row was not written (the
database refused after the file was in place) is simply unreferenced, and is reused if the same
bytes come again.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.cases.attachment_media import EXTENSIONS, Described, describe
from geo_service.errors import InvalidInput, NotFound, TooLarge
from geo_service.i18n import t

_COPY_CHUNK = 1 << 20
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
FILE_NAME_CHARS = 200

_COLUMNS = """a.id, a.incident_id, a.sha256, a.media_type, a.size_bytes, a.file_name, a.exif_lon,
              a.exif_lat, a.uploaded_by, a.uploaded_at"""


@dataclass(frozen=True)
class Kept:
    """A file in the store: its hash, size, type and the position it carries."""

    sha256: str
    size_bytes: int
    described: Described


def file_path(folder: Path, sha256: str) -> Path:
    """Where the file of hash ``sha256`` is kept: a folder of the hash's first two characters
    (so that no folder holds every file), named by the whole hash."""
    if not _SHA256.match(sha256):
        raise ValueError(f"{sha256!r} is not a SHA-256 in hex")
    return Path(folder) / sha256[:2] / sha256


def too_large(max_bytes: int) -> TooLarge:
    """The refusal of a file over ``max_bytes``, naming the limit."""
    return TooLarge(
        t(
            "a photo or video may be at most {limit} MB ({max_bytes} bytes); this one is larger",
            limit=f"{max_bytes / 1024 / 1024:g}",
            max_bytes=max_bytes,
        ),
        field="file",
        max_bytes=max_bytes,
    )


def keep(folder: Path, source: BinaryIO, max_bytes: int) -> Kept:
    """Copy ``source`` into the store under ``folder``, unless a file of the same bytes is there.

    The copy is hashed as it is written and refused past ``max_bytes`` (TooLarge), if empty, or
    if its bytes are not a photo or video the service keeps (InvalidInput); nothing is left in the
    store then.
    """
    folder = Path(folder)
    spool = folder / "incoming"
    spool.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    handle, temporary = tempfile.mkstemp(dir=spool, prefix="upload-")
    try:
        with os.fdopen(handle, "w+b") as copy:
            while chunk := source.read(_COPY_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise too_large(max_bytes)
                digest.update(chunk)
                copy.write(chunk)
            if size == 0:
                raise InvalidInput(t("the file is empty"), field="file")
            described = describe(copy)
            copy.flush()
            os.fsync(copy.fileno())
        sha256 = digest.hexdigest()
        target = file_path(folder, sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            os.unlink(temporary)
        else:
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)  # atomic: a reader sees the whole file or none
        return Kept(sha256, size, described)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def read_position(source: BinaryIO, max_bytes: int) -> Described:
    """What a file is and where it was taken, without keeping it (for a phone that has no fix
    of its own): the same checks as :func:`keep`."""
    source.seek(0, os.SEEK_END)
    size = source.tell()
    if size > max_bytes:
        raise too_large(max_bytes)
    if size == 0:
        raise InvalidInput(t("the file is empty"), field="file")
    return describe(source)


def clean_file_name(name: str | None) -> str | None:
    """The sender's name for the file, for showing only: without its folders or control
    characters, and not too long."""
    if not name:
        return None
    name = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:FILE_NAME_CHARS] or None


def attach(
    connection: Connection, incident_id: int, kept: Kept, *, file_name: str | None, uploaded_by: str
) -> tuple[dict, bool]:
    """Record the kept file against the case (which the caller has found visible), in the
    caller's transaction; returns the attachment and whether it is new. A new one is put on the
    audit log; the same bytes sent to the same case again write nothing."""
    position = kept.described.position or {}
    row = (
        connection.execute(
            text(f"""
            INSERT INTO incident_attachments AS a (incident_id, county_code, sha256, media_type, size_bytes,
                                                   file_name, exif_lon, exif_lat, uploaded_by)
            SELECT i.id, i.county_code, :sha256, :media_type, :size, :file_name, :lon, :lat, :by
              FROM incidents i WHERE i.id = :incident_id
            ON CONFLICT (incident_id, sha256) DO NOTHING
            RETURNING {_COLUMNS}"""),
            {
                "incident_id": incident_id,
                "sha256": kept.sha256,
                "media_type": kept.described.media_type,
                "size": kept.size_bytes,
                "file_name": clean_file_name(file_name),
                "lon": position.get("lon"),
                "lat": position.get("lat"),
                "by": uploaded_by,
            },
        )
        .mappings()
        .first()
    )
    if row is None:
        existing = (
            connection.execute(
                text(f"SELECT {_COLUMNS} FROM incident_attachments a WHERE a.incident_id = :id AND a.sha256 = :sha256"),
                {"id": incident_id, "sha256": kept.sha256},
            )
            .mappings()
            .first()
        )
        if existing is None:
            raise NotFound(t("no incident with id {incident_id}", incident_id=incident_id), field="id")
        return attachment_dict(existing), False
    attachment = attachment_dict(row)
    audit.record(
        connection,
        uploaded_by,
        "upload",
        "attachment",
        attachment["id"],
        after={
            "incident_id": incident_id,
            "sha256": kept.sha256,
            "media_type": attachment["media_type"],
            "size_bytes": kept.size_bytes,
        },
    )
    return attachment, True


def attachment_dict(row) -> dict:
    """An attachment as the service shows it; ``href`` is where its bytes are read."""
    media_type = row["media_type"]
    position = None
    if row["exif_lon"] is not None:
        position = {"lon": row["exif_lon"], "lat": row["exif_lat"], "crs": "wgs84"}
    return {
        "id": row["id"],
        "incident_id": row["incident_id"],
        "kind": "video" if media_type.startswith("video/") else "photo",
        "media_type": media_type,
        "size_bytes": row["size_bytes"],
        "sha256": row["sha256"],
        "file_name": row["file_name"],
        "position": position,
        "uploaded_by": row["uploaded_by"],
        "uploaded_at": row["uploaded_at"].isoformat(),
        "href": f"/attachments/{row['id']}",
    }


def attachments_of(connection: Connection, incident_id: int) -> list[dict]:
    """A case's attachments in the order they came (the caller has checked the case is visible)."""
    rows = connection.execute(
        text(f"SELECT {_COLUMNS} FROM incident_attachments a WHERE a.incident_id = :id ORDER BY a.uploaded_at, a.id"),
        {"id": incident_id},
    ).mappings()
    return [attachment_dict(r) for r in rows]


def find_attachment(connection: Connection, attachment_id: int, scope: Jurisdiction | None = None) -> dict:
    """One attachment whose case lies within ``scope``; NotFound otherwise, as for the case."""
    scope = scope or EVERYTHING
    row = (
        connection.execute(
            text(f"""
            SELECT {_COLUMNS} FROM incident_attachments a
              JOIN incidents i ON i.id = a.incident_id AND i.county_code = a.county_code
             WHERE a.id = :id AND {scope.incidents("i")}"""),
            {"id": attachment_id, **scope.params()},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(t("no attachment with id {attachment_id}", attachment_id=attachment_id), field="id")
    return attachment_dict(row)


def read_for(connection: Connection, attachment_id: int, folder: Path, *, scope: Jurisdiction, reader: str) -> dict:
    """The attachment ``reader`` asks to see, with ``path`` to its file and a ``download_name``;
    the read is put on the audit log, in the caller's transaction."""
    attachment = find_attachment(connection, attachment_id, scope)
    path = file_path(folder, attachment["sha256"])
    if not path.is_file():
        raise NotFound(
            t("the file of attachment {attachment_id} is missing from the store", attachment_id=attachment_id),
            field="id",
        )
    audit.record(
        connection, reader, "read", "attachment", attachment_id, after={"incident_id": attachment["incident_id"]}
    )
    name = attachment["file_name"] or f"{attachment_id}.{EXTENSIONS[attachment['media_type']]}"
    return {**attachment, "path": path, "download_name": name}
