"""What the API's routes share: the engine and settings of the app, the signed-in principal, and
the request parameters many routes take (a bounding box, a moment, a page), each parsed once here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy import Engine

from geo_service.api.auth import allow, current_principal
from geo_service.coordinates.bbox import BBox, parse_bbox
from geo_service.i18n import Language, negotiate
from geo_service.settings import Settings
from geo_service.times import storable

__all__ = [
    "BBoxParam",
    "EngineDep",
    "Moment",
    "Page",
    "ReaderLanguage",
    "SettingsDep",
    "allow",
    "current_principal",
    "page",
]


def app_engine(request: Request) -> Engine:
    return request.app.state.engine


def app_settings(request: Request) -> Settings:
    return request.app.state.settings


def reader_language(request: Request) -> Language:
    """The language the reader asked for (``Accept-Language``), Chinese by default."""
    return negotiate(request.headers.get("accept-language"))


EngineDep = Annotated[Engine, Depends(app_engine)]
SettingsDep = Annotated[Settings, Depends(app_settings)]
ReaderLanguage = Annotated[Language, Depends(reader_language)]

# A time a request may carry: one the database can store (a real UTC offset, a date in range);
# anything else is a 422 naming the parameter, not a failure inside a query. Without a zone it is
# the county's time: the library applies the zone (``geo_service.times``).
Moment = Annotated[datetime, AfterValidator(storable)]


def bbox_param(
    bbox: str | None = Query(None, description="minlon,minlat,maxlon,maxlat in CGCS2000."),
) -> BBox | None:
    return parse_bbox(bbox)


BBoxParam = Annotated[BBox | None, Depends(bbox_param)]


def page(max_limit: int, default: int = 100):
    """A dependency giving ``(limit, offset)``: a page of at most ``max_limit`` items."""

    def dependency(
        limit: int = Query(default, ge=1, le=max_limit, description=f"Items per page, 1 to {max_limit}."),
        offset: int = Query(0, ge=0, le=10_000_000, description="Items to skip."),
    ) -> tuple[int, int]:
        return limit, offset

    return dependency


Page = tuple[int, int]
