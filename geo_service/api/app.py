"""The application factory: settings and engine are bound when the app is made, not at import."""

from __future__ import annotations

import weakref
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware

from geo_service import __version__
from geo_service.api import (
    analysis,
    attachments,
    audit,
    auth,
    boundaries,
    bulk,
    cases,
    county,
    departments,
    errors,
    health,
    inbox,
    incidents,
    locate,
    map_page,
    metrics,
    ogc_features,
    pages,
    rules,
    tiles,
    wall,
)
from geo_service.api.analysis_pool import AnalysisPool
from geo_service.api.json_bodies import StrictJsonBodies
from geo_service.api.limits import BodyLimit, RateLimiter
from geo_service.api.request_log import RequestLog
from geo_service.db.engine import engine_for
from geo_service.metrics import ServiceMetrics
from geo_service.settings import Settings, get_settings
from geo_service.startup_objects import freeze_startup_objects

DESCRIPTION = """
Spatial service for grid-based community governance (网格化服务管理): a county's towns, villages
and grids, the officers responsible for them, its cameras and its incidents, on PostGIS.
Coordinates are stored in CGCS2000 (EPSG:4490).

Every endpoint but `/healthz`, the map page's files and these documents needs a bearer token
(`Authorization: Bearer ...`, from `geo-service users add`): a user's role decides what they may do
and their jurisdiction (county, town, village or grid) what they see. An item outside it answers
404, as if it did not exist.
"""


# gzip at level 4: for a 1.6 MB GeoJSON answer 30 ms and 22% of the size, against 138 ms and 21%
# at Starlette's default 9 (and brotli, which browsers offer only over HTTPS, 31 ms and 21% at
# quality 4). Bodies compressed already are left as they are: photos and videos by their type,
# and any answer that carries a Content-Encoding of its own (pre-compressed tiles) untouched.
GZIP_LEVEL = 4
NOT_COMPRESSED = (*DEFAULT_EXCLUDED_CONTENT_TYPES, "image/*", "application/x-zip-compressed")


def create_app(settings: Settings | None = None, *, start_analysis_pool: bool = False) -> FastAPI:
    """The app over ``settings``' database. Its analysis processes start with it when
    ``start_analysis_pool`` (the service as ``geo-service serve`` runs it), else on the first
    analysis asked of it: an app made for a test or a script starts no process it does not use."""
    settings = settings or get_settings()
    engine = engine_for(settings)
    pool = AnalysisPool(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if start_analysis_pool:  # the service as served: a long-lived worker
            pool.start()
            freeze_startup_objects()
        yield
        pool.close()
        recorder = getattr(app.state, "read_recorder", None)  # made by the first lookup (api.locate)
        if recorder is not None:
            recorder.close()
        engine.dispose()

    # The docs pages' scripts and styles are served by the service: county intranets reach no CDN.
    app = FastAPIOffline(title="geo_service", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.rate_limiter = RateLimiter()
    app.state.metrics = ServiceMetrics(engine)
    app.state.analysis_pool = pool
    weakref.finalize(app, pool.close)  # an app dropped without its shutdown (a test's) stops them too
    # Middleware added last runs first: the size of a body is checked before it is parsed, answers
    # are compressed on their way out, and every request, refused or not, is logged and counted
    # with the time its compression took.
    app.add_middleware(StrictJsonBodies)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.serving.max_body_bytes,
        upload_max_bytes=settings.planning.boundary_upload_max_bytes,
        upload_paths=("/boundaries/drafts", "/attachments/"),
    )
    app.add_middleware(
        GZipMiddleware,
        minimum_size=settings.serving.compress_min_bytes,
        compresslevel=GZIP_LEVEL,
        exclude_content_types=NOT_COMPRESSED,
    )
    app.add_middleware(RequestLog, metrics=app.state.metrics)
    errors.install(app)
    app.include_router(health.router)
    # The routes asked most, first: a request's route is found by trying each in turn.
    app.include_router(tiles.router)
    app.include_router(locate.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(audit.router)
    app.include_router(bulk.router)
    app.include_router(inbox.router)
    app.include_router(incidents.router)
    app.include_router(attachments.router)
    app.include_router(wall.router)
    app.include_router(cases.router)
    app.include_router(cases.sla_router)
    app.include_router(departments.router)
    app.include_router(boundaries.router)
    app.include_router(ogc_features.router)
    app.include_router(map_page.router)
    app.include_router(pages.router)
    app.include_router(analysis.router)
    app.include_router(rules.router)
    app.include_router(county.router)
    return app


def create_served_app() -> FastAPI:
    """The app as ``geo-service serve`` runs it: its analysis processes started and warmed with it."""
    return create_app(start_analysis_pool=True)
