"""Reading OGC API - Features query parameters: CRS, bbox, datetime, sortby and the paging cursor.

Every bad parameter is a 400 naming it (OGC API answers a bad parameter with 400, not 422).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from geo_service.coordinates.bbox import BBox
from geo_service.coordinates.bbox import parse_bbox as parse_lonlat_bbox
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.ogc.collections import CRS84, EPSG, SUPPORTED_CRS, Collection
from geo_service.times import parse_moment

MAX_CURSOR_CHARS = 2_000


class BadRequest(InvalidInput):
    """OGC API answers a bad parameter with 400."""

    status_code = 400


def parse_crs(value: str | None, field_name: str = "crs") -> tuple[str, int, bool]:
    """The CRS a request names, as its URI, SRID and axis order. Besides the URIs, the short forms
    clients send are read: ``EPSG:4490``, the safe CURIE ``[EPSG:4490]``, ``urn:ogc:def:crs:EPSG::4490``
    and ``OGC:CRS84``."""
    uri = (value or CRS84).strip()
    curie = uri[1:-1] if uri.startswith("[") and uri.endswith("]") else uri
    if curie.lower().startswith("urn:ogc:def:crs:"):
        parts = curie.split(":")
        curie = f"{parts[4]}:{parts[-1]}" if len(parts) >= 6 else curie
    authority, _, code = curie.partition(":")
    if authority.upper() == "EPSG" and code.isdigit():
        uri = EPSG.format(code)
    elif authority.upper() == "OGC" and code.upper() == "CRS84":
        uri = CRS84
    if uri not in SUPPORTED_CRS:
        raise BadRequest(
            t(
                "{field_name}: {value!r} is not supported; use one of {SUPPORTED_CRS}",
                field_name=field_name,
                value=value,
                SUPPORTED_CRS=", ".join(SUPPORTED_CRS),
            ),
            field=field_name,
        )
    srid, lat_first = SUPPORTED_CRS[uri]
    return uri, srid, lat_first


def parse_bbox(value: str | None, bbox_crs: str | None) -> BBox | None:
    """``minx,miny,maxx,maxy`` in ``bbox-crs`` (lat first for EPSG:4490/4326), as lon/lat; a
    bad box is a 400 naming ``bbox``, an unsupported ``bbox-crs`` one naming ``bbox-crs``."""
    if value is None:
        return None
    _, _, lat_first = parse_crs(bbox_crs, "bbox-crs")
    return parse_lonlat_bbox(value, lat_first=lat_first, error=BadRequest)


def parse_datetime(value: str | None, zone: str) -> tuple[datetime | None, datetime | None] | None:
    """An instant (start == end) or an interval ``a/b`` with ``..`` for an open end."""
    if value is None:
        return None

    def one(part: str) -> datetime | None:
        if part in ("..", ""):
            return None
        return parse_moment(part, "datetime", zone, error=BadRequest)

    if "/" in value:
        start, _, end = value.partition("/")
        interval = one(start), one(end)
        if interval[0] and interval[1] and interval[0] > interval[1]:
            raise BadRequest(t("datetime: {value!r} ends before it starts", value=value), field="datetime")
        return interval
    instant = one(value)
    if instant is None:
        raise BadRequest(t("datetime: an instant cannot be '..'"), field="datetime")
    return instant, instant


def parse_sortby(value: str | None, c: Collection) -> list[tuple[str, bool]]:
    """``sortby=-reported_at,category`` as (property, descending) pairs of sortable properties."""
    if not value:
        return []
    keys = []
    for part in value.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("+-").strip()
        if name not in c.sortable:
            raise BadRequest(
                t(
                    "sortby: {id} cannot be sorted by {name!r}; it can by {sortable}",
                    id=c.id,
                    name=name,
                    sortable=", ".join(c.sortable),
                ),
                field="sortby",
            )
        keys.append((name, descending))
    return keys


def encode_cursor(values: list) -> str:
    """The position after a page: its last row's sort keys, opaque to clients."""
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(value: str, length: int) -> list:
    """The sort keys :func:`encode_cursor` wrote; a 400 naming ``cursor`` for anything else."""
    try:
        if len(value) > MAX_CURSOR_CHARS:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        if not isinstance(values, list) or len(values) != length:
            raise ValueError
        if not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in values):
            raise ValueError
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            t("cursor: not a cursor of this listing with this sortby (follow the 'next' link as given)"), field="cursor"
        ) from None
    return values
