"""What the dispatcher's map page asks the service for, beyond tiles: its configuration, where it
opens for a user, and GeoJSON moved onto its basemap's datum.

The page draws in the basemap's datum; coordinates are converted here
(``geo_service.coordinates.datum``), never in the browser. Its codes (statuses, datums) are the
service's own, from ``geo_service.vocabulary``; the page shows them by their labels in the
reader's language (``geo_service.i18n``).
"""

from __future__ import annotations

from datetime import timedelta

import geopandas
import shapely
from shapely.geometry import mapping
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.auth.jurisdiction import Jurisdiction
from geo_service.coordinates.datum import convert_geometry
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.settings import Settings
from geo_service.tiles.service import display_datum
from geo_service.times import local_day
from geo_service.vocabulary import DATUMS, STATUSES

# The page opens on the days up to the latest incident.
SPAN_DAYS = 30
CONFIG = text("""
    SELECT (SELECT max(reported_at) FROM incidents) AS latest,
           (SELECT json_agg(json_build_object('code', code, 'name', name_zh, 'name_en', name_en) ORDER BY code)
              FROM categories) AS categories,
           (SELECT json_agg(json_build_object('code', code, 'name', name_zh, 'name_en', name_en) ORDER BY code)
              FROM camera_kinds) AS camera_kinds,
           (SELECT json_agg(json_build_object('code', code, 'name', name_zh, 'name_en', name_en) ORDER BY code)
              FROM access_roles) AS access_roles
""")


def page_config(connection: Connection, settings: Settings) -> dict:
    """The basemap and its datum, the categories and statuses to filter by, the datums a point may
    be typed in, and a default span: the county's ``SPAN_DAYS`` days up to the latest incident.
    Names that are data come in both languages (``name``: Chinese, ``name_en``): the categories,
    the camera kinds a tooltip shows and the users' access roles (the page shows its user's)."""
    row = connection.execute(CONFIG).mappings().one()
    span = None
    if row["latest"] is not None:
        end = local_day(row["latest"], settings.place.timezone) + timedelta(days=1)
        span = {"start": (end - timedelta(days=SPAN_DAYS)).isoformat(), "end": end.isoformat()}
    return {
        "datum": display_datum(settings.map.basemap_datum),
        "basemap": bool(settings.map.basemap_url),
        "categories": row["categories"] or [],
        "camera_kinds": row["camera_kinds"] or [],
        "access_roles": row["access_roles"] or [],
        "statuses": list(STATUSES),
        "span": span,
        "datums": sorted(DATUMS, key=lambda d: d != "cgcs2000"),  # the stored datum first
    }


def jurisdiction_extent(jurisdiction: Jurisdiction, datum: str) -> dict:
    """Where the map opens for a user: the box around their city, county, town, village or grid in
    the map's ``datum``; ``bbox`` is None for a user of everything served (the style's view fits
    every county)."""
    shown = display_datum(datum)
    bbox = None
    if not jurisdiction.whole_deployment and jurisdiction.area is not None:
        area = convert_geometry(shapely.from_wkb(jurisdiction.area), "cgcs2000", shown)
        bbox = [round(float(v), 6) for v in area.bounds]
    return {**jurisdiction.to_dict(), "whole": jurisdiction.whole_deployment, "datum": shown, "bbox": bbox}


def convert_collection(collection: dict, src: str, dst: str) -> dict:
    """A GeoJSON FeatureCollection (lon/lat) moved from datum ``src`` to ``dst``, properties kept."""
    if collection.get("type") != "FeatureCollection" or not isinstance(collection.get("features"), list):
        raise InvalidInput(t("body: must be a GeoJSON FeatureCollection"), field="body")
    try:
        frame = geopandas.GeoDataFrame.from_features(collection["features"])
    except (KeyError, TypeError, ValueError, shapely.errors.GEOSException) as e:
        raise InvalidInput(t("body: not readable as GeoJSON features ({e})", e=e), field="body") from None
    moved = convert_geometry(frame.geometry.values, src, dst)
    features = [
        {**feature, "geometry": mapping(geom) if geom is not None else None}
        for feature, geom in zip(collection["features"], moved)
    ]
    return {**collection, "features": features}
