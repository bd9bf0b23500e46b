"""The dispatcher's map page (served at ``/map`` by ``pages``): its own files, and what it asks the
service for.

Everything the page loads comes from the service: its HTML, script and style
(``geo_service/web/static``), MapLibre GL JS (installed from the npm registry at set-up), the
style document and the tiles. The page draws in the basemap's datum; coordinates typed in any
datum are converted by the service (``geo_service.tiles.page``), never in the browser.

The page's own files are public (the page has to load to show its sign-in); everything it then
asks for carries the user's bearer token. Each of these files is sent with a Content-Security-Policy
that lets the page talk to nothing but this service (and the basemap's server, when one is set).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import FileResponse, JSONResponse

from geo_service.api.dependencies import EngineDep, SettingsDep, current_principal
from geo_service.auth.principal import Principal
from geo_service.coordinates.datum import convert
from geo_service.errors import InvalidInput, NotFound
from geo_service.i18n import t
from geo_service.settings import Settings
from geo_service.tiles import page
from geo_service.vocabulary import Datum
from geo_service.web.vendor import PACKAGES, asset_path

router = APIRouter(tags=["map"])
WEB_DIR = Path(__file__).resolve().parent.parent / "web"
STATIC_DIR = WEB_DIR / "static"
STATIC_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
}


def _origin(url: str) -> str | None:
    """The CSP source of a tile URL template's server: scheme://host[:port], a templated label
    (``{s}.tiles.example``) becoming a wildcard; None for what is not an http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = re.sub(r"\{[^}]*\}", "*", parts.netloc)
    return f"{parts.scheme}://{host}"


@lru_cache(maxsize=8)
def _page_headers(basemap_url: str | None) -> dict[str, str]:
    # MapLibre runs its workers from a blob: URL and decodes images through blob:/data: URLs; it
    # needs nothing else. No inline style either: MapLibre positions its elements through the CSSOM
    # (which a policy does not restrict), and the page writes no style attribute.
    origin = _origin(basemap_url) if basemap_url else None
    basemap = f" {origin}" if origin else ""
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{basemap}",
            "worker-src 'self' blob:",
            "child-src blob:",
            f"connect-src 'self'{basemap}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )
    return {"Content-Security-Policy": policy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"}


def page_headers(settings: Settings, cache_control: str = "no-cache") -> dict[str, str]:
    """The headers of every file of the page: its Content-Security-Policy and the rest."""
    return {**_page_headers(settings.map.basemap_url), "Cache-Control": cache_control}


@router.get("/map/vendor/{package}/{file:path}", include_in_schema=False)
def vendor_file(settings: SettingsDep, package: str, file: str) -> FileResponse:
    """A file of a pinned browser package (only the files its manifest lists)."""
    if package not in PACKAGES or file not in PACKAGES[package].files:
        raise NotFound(t("no such vendored file: {package}/{file}", package=package, file=file), field="file")
    path = asset_path(package, file)
    kind = STATIC_TYPES.get(path.suffix, "application/octet-stream")
    # The version is pinned in the manifest: a new version is a new install, a page reload suffices.
    return FileResponse(path, media_type=kind, headers=page_headers(settings, "public, max-age=3600"))


@router.get("/map/config.json", summary="What the map page needs to start")
def map_config(engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """The basemap and its datum, the categories and statuses to filter by, and a default span
    (the 30 days up to the latest incident)."""
    with engine.connect() as connection:
        config = page.page_config(connection, settings)
    return JSONResponse(config, headers=page_headers(settings))


@router.get("/map/extent", summary="The bounding box of the signed-in user's jurisdiction")
def jurisdiction_extent(
    principal: Principal = Depends(current_principal),
    datum: str = Query("wgs84", description="The datum the map is drawn in (wgs84, gcj02, bd09)."),
) -> dict:
    """Where the map opens for this user: the box around their town, village or grid in the map's
    datum; `bbox` is null for a user of the whole county (the style's own view fits the county)."""
    return page.jurisdiction_extent(principal.jurisdiction, datum)


@router.get("/map/convert", summary="Convert a point between datums", dependencies=[Depends(current_principal)])
def convert_point(
    lon: float = Query(..., description="Longitude in `src`."),
    lat: float = Query(..., description="Latitude in `src`."),
    src: Datum = Query(..., alias="from", description="Datum of lon/lat."),
    dst: Datum = Query(..., alias="to", description="Datum wanted."),
) -> dict:
    try:
        x, y = convert(lon, lat, src, dst)
    except ValueError as e:
        raise InvalidInput(t("lon/lat: {e}", e=e), field="lon") from None
    return {"lon": float(x), "lat": float(y), "crs": dst}


@router.post(
    "/map/convert",
    summary="Convert a GeoJSON FeatureCollection between datums",
    dependencies=[Depends(current_principal)],
)
def convert_features(
    collection: dict = Body(..., description="A GeoJSON FeatureCollection in lon/lat."),
    src: Datum = Query("cgcs2000", alias="from"),
    dst: Datum = Query(..., alias="to"),
) -> JSONResponse:
    """The page overlays GeoJSON (hotspots) on a GCJ-02 or BD-09 basemap through this."""
    return JSONResponse(page.convert_collection(collection, src, dst))
