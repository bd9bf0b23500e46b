"""A county's cameras: 20-digit GB/T 28181 device codes, their kind, where they stand and what they see.

Reading is in two phases, so a dry run is the first alone and nothing half-writes:
:func:`prepare_cameras` checks every row and reports what is wrong on the file's report;
:func:`write_cameras` stores what was prepared, set-wise, in the caller's transaction.

Kinds are data (the ``camera_kinds`` table, edited by an administrator), matched by code, Chinese or
English name, a ``camera_kind`` entry of ``value_aliases``, or a cell holding exactly one kind's
Chinese name (``雪亮工程`` is 雪亮). A row without a kind is ``other`` when that kind exists.

The view sector a file leaves out comes from the kind. The defaults seeded with the rules
(``geo_service/rules/camera_kinds.csv``) are:

=========  ======  =====  =====
kind       name    fov    range
=========  ======  =====  =====
tianwang   天网     75°   150 m
xueliang   雪亮     70°   100 m
zongzhi    综治     90°    60 m
huiyan     慧眼     90°    80 m
other      其他     90°    60 m
=========  ======  =====  =====

* A camera with a heading (degrees clockwise from north, or 北/东北/东/...) sees ``fov`` degrees
  around it (the file's, else the kind's).
* A camera without a heading is a dome: it sees all around (fov 360, heading stored as 0) within
  its range.
* Range: the file's, else the kind's; anything beyond ``vocabulary.MAX_CAMERA_RANGE_M`` (the most the
  cameras table allows, the distance lookups search) is capped there with a warning.
* Status: ``online``/``offline``/``fault`` or a ``camera_status`` name in ``value_aliases`` (在线,
  离线, 故障, ...); ``online`` when missing. ``installed_on`` is optional.

Importing again matches cameras by device code: a camera is updated only if something changed,
new ones are added, and cameras the file does not list are left as they are.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth import audit
from geo_service.county import unit_codes
from geo_service.county.people_values import cell
from geo_service.db.copy import copy_frame
from geo_service.i18n import Message, reason_of, t
from geo_service.times import read_written_day
from geo_service.vocabulary import CAMERA_STATES, MAX_CAMERA_RANGE_M

DEVICE_CODE_DIGITS = 20
COMPASS = {"北": 0, "东北": 45, "东": 90, "东南": 135, "南": 180, "西南": 225, "西": 270, "西北": 315}
COLUMNS = ["device_code", "name", "kind", "heading_deg", "fov_deg", "range_m", "status", "installed_on"]


@dataclass
class PreparedCameras:
    """What a camera file will store: one row per camera (``COLUMNS``, ``lon``, ``lat``, ``_row``)."""

    path: str
    cameras: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.cameras)


def _number(value: object, unit: str) -> float | None:
    raw = cell(value)
    if raw is None:
        return None
    try:
        number = float(re.sub(rf"\s*(°|度|{unit})$", "", raw, flags=re.IGNORECASE))
    except ValueError:
        raise ValueError(t("{value!r} is not a number", value=raw)) from None
    if not math.isfinite(number):
        raise ValueError(t("{value!r} is not a number", value=raw))
    return number


def _heading(value: object) -> float | None:
    raw = cell(value)
    if raw is not None and raw.removeprefix("正") in COMPASS:
        return float(COMPASS[raw.removeprefix("正")])
    number = _number(value, "")
    return None if number is None else number % 360


def _device_code(value: object) -> str | None:
    if cell(value) is None:
        return None
    code, reason = unit_codes.clean_code(value)
    if code is None:
        raise ValueError(reason)
    if len(code) != DEVICE_CODE_DIGITS:
        raise ValueError(
            t("device code {code} has {digits} digits; a GB/T 28181 device code has 20", code=code, digits=len(code))
        )
    return code


def prepare_cameras(
    connection: Connection, table, *, units: dict[str, str] | None = None, zone: str | None = None
) -> PreparedCameras:
    """Check every row of a camera file and gather what it would store; problems go on ``table.report``.

    Parameters
    ----------
    connection
        Reads the ``camera_kinds`` and ``value_aliases`` tables.
    table
        A ``SourceTable`` of kind ``cameras`` (text values; ``lon``/``lat`` floats in CGCS2000).
    units
        The county's unit codes -> levels; cameras are placed by where they stand, not by code,
        so this is accepted for a call alike to the other kinds' and not needed.
    zone
        The county's time zone, for installation dates given as times with a zone.

    Returns
    -------
    PreparedCameras
        The good rows only; a row with any error (or without coordinates) is left out.
    """
    kinds = connection.execute(text("SELECT code, name_zh, name_en, fov_deg, range_m FROM camera_kinds")).all()
    defaults = {k.code: k for k in kinds}
    kind_names = {name.lower(): k.code for k in kinds for name in (k.code, k.name_zh, k.name_en)}
    states = {s: s for s in CAMERA_STATES}
    for field, alias, value in connection.execute(
        text("SELECT field, alias, value FROM value_aliases WHERE field IN ('camera_kind', 'camera_status')")
    ).all():
        if field == "camera_kind" and value in defaults:
            kind_names[alias.lower()] = value
        elif field == "camera_status" and value in CAMERA_STATES:
            states[alias.lower()] = value
    known_kinds = ", ".join(f"{k.name_zh} ({k.code})" for k in kinds)
    report, column = table.report, table.columns.get
    unreadable = report.bad_rows()
    seen: dict[str, int] = {}
    out: list[dict] = []

    for record in table.frame.to_dict("records"):
        row = int(record["_row"])
        errors_before = len(report.errors)

        def error(name: str, reason: Message, row: int = row) -> None:
            report.error(row, column(name, name), reason)

        def read(parse, name: str, record: dict = record):
            try:
                return parse(record.get(name))
            except ValueError as exc:
                error(name, reason_of(exc))
                return None

        lon, lat = record.get("lon"), record.get("lat")
        if lon is None or lat is None or pd.isna(lon) or pd.isna(lat):
            if row not in unreadable:
                error("lon", t("the coordinates are missing"))
            continue  # the reader has said what is wrong with them
        code = read(_device_code, "code")
        if code is None and cell(record.get("code")) is None:
            error("code", t("the device code is missing"))
        elif code in seen:
            error("code", t("device code {code} is also on row {row}", code=code, row=seen[code]))
        kind_cell = cell(record.get("kind"))
        kind = _kind(kind_cell, kind_names, kinds)
        if kind is None:
            error(
                "kind",
                t(
                    "the camera kind {kind!r} is not in the camera kinds table; known: {known}",
                    kind=kind_cell,
                    known=known_kinds,
                ),
            )
        heading = read(_heading, "heading")
        fov = read(lambda v: _number(v, ""), "fov")
        reach = read(lambda v: _number(v, "米|m"), "range")
        if fov is not None and not 0 < fov <= 360:
            error("fov", t("the field of view {fov:g}° is not between 0 and 360", fov=fov))
        if reach is not None and reach <= 0:
            error("range", t("the range {range:g} m is not above 0", range=reach))
        status_cell = cell(record.get("status"))
        status = states.get(status_cell.lower()) if status_cell else "online"
        if status is None:
            error(
                "status",
                t(
                    "the status {status!r} is not known; use one of {states} "
                    "or a name in the value_aliases table (在线, 离线, 故障)",
                    status=status_cell,
                    states=", ".join(CAMERA_STATES),
                ),
            )
        installed = read(lambda v: read_written_day(v, zone), "installed_on")
        if len(report.errors) > errors_before or row in unreadable:
            continue
        seen[code] = row
        default = defaults[kind]
        if heading is None:
            if fov is not None and fov < 360:
                report.warn(
                    row, column("fov", "fov"), t("no heading, so the camera is taken as a dome seeing all around")
                )
            heading, fov = 0.0, 360.0
        reach = reach if reach is not None else default.range_m
        if reach > MAX_CAMERA_RANGE_M:
            report.warn(
                row,
                column("range", "range"),
                t("range {range:g} m is beyond the {most} m stored at most", range=reach, most=MAX_CAMERA_RANGE_M),
            )
            reach = float(MAX_CAMERA_RANGE_M)
        out.append(
            {
                "device_code": code,
                "name": cell(record.get("name")) or code,
                "kind": kind,
                "heading_deg": heading,
                "fov_deg": fov if fov is not None else default.fov_deg,
                "range_m": reach,
                "status": status,
                "installed_on": installed,
                "lon": float(lon),
                "lat": float(lat),
                "_row": row,
            }
        )
    return PreparedCameras(table.path, pd.DataFrame(out, columns=[*COLUMNS, "lon", "lat", "_row"]))


def _kind(value: str | None, names: dict[str, str], kinds) -> str | None:
    """A kind's code from a cell: by code or name, else the one kind whose Chinese name it holds."""
    if value is None:
        return "other" if any(k.code == "other" for k in kinds) else None
    if value.lower() in names:
        return names[value.lower()]
    held = {k.code for k in kinds if k.name_zh and k.name_zh in value}
    return held.pop() if len(held) == 1 else None


_UPSERT = """
    INSERT INTO cameras AS c (device_code, name, kind, heading_deg, fov_deg, range_m, status, installed_on, geom)
    SELECT device_code, name, kind, heading_deg, fov_deg, range_m, status, installed_on, geom FROM _cameras_in
    ON CONFLICT (device_code) DO UPDATE
       SET name = excluded.name, kind = excluded.kind, heading_deg = excluded.heading_deg,
           fov_deg = excluded.fov_deg, range_m = excluded.range_m, status = excluded.status,
           installed_on = coalesce(excluded.installed_on, c.installed_on), geom = excluded.geom
     WHERE (c.name, c.kind, c.heading_deg, c.fov_deg, c.range_m, c.status, c.installed_on)
           IS DISTINCT FROM (excluded.name, excluded.kind, excluded.heading_deg, excluded.fov_deg, excluded.range_m,
                             excluded.status, coalesce(excluded.installed_on, c.installed_on))
        OR NOT ST_Equals(c.geom, excluded.geom)
    RETURNING (xmax = 0) AS added
"""


def write_cameras(connection: Connection, prepared: PreparedCameras, *, actor: str) -> dict[str, int]:
    """Store prepared cameras, in the caller's transaction: new ones added, changed ones updated.

    Returns
    -------
    dict
        ``added``, ``updated``, ``unchanged``.
    """
    cursor = connection.connection.cursor()
    cursor.execute("DROP TABLE IF EXISTS _cameras_in")
    cursor.execute(
        "CREATE TEMP TABLE _cameras_in (device_code text, name text, kind text, heading_deg float8, fov_deg float8, "
        "range_m float8, status text, installed_on date, geom geometry(Point, 4490)) ON COMMIT DROP"
    )
    frame = prepared.cameras.copy()
    frame["geom"] = shapely.to_wkb(
        shapely.set_srid(shapely.points(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)), 4490),
        hex=True,
        include_srid=True,
    )
    copy_frame(cursor, "_cameras_in", frame, [*COLUMNS, "geom"])
    cursor.execute(_UPSERT)
    added = sum(1 for (is_new,) in cursor.fetchall() if is_new)
    updated = cursor.rowcount - added
    counts = {"added": added, "updated": updated, "unchanged": len(frame) - added - updated}
    audit.record(connection, actor, "county.cameras", "cameras", after={"file": prepared.path, **counts})
    return counts
