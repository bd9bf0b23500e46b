"""The application factory: settings and engine are bound when the app is made, not at import."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

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
from geo_service.api.json_bodies import StrictJsonBodies
from geo_service.api.limits import BodyLimit, RateLimiter
from geo_service.api.request_log import RequestLog
from geo_service.db.engine import engine_for
from geo_service.metrics import ServiceMetrics
from geo_service.settings import Settings, get_settings

DESCRIPTION = """
Spatial service for grid-based community governance (网格化服务管理): a county's towns, villages
and grids, the officers responsible for them, its cameras and its incidents, on PostGIS.
Coordinates are stored in CGCS2000 (EPSG:4490).

Every endpoint but `/healthz`, the map page's files and these documents needs a bearer token
(`Authorization: Bearer ...`, from `geo-service users add`): a user's role decides what they may do
and their jurisdiction (county, town, village or grid) what they see. An item outside it answers
404, as if it did not exist.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = engine_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        engine.dispose()

    # The docs pages' scripts and styles are served by the service: county intranets reach no CDN.
    app = FastAPIOffline(title="geo_service", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = engine
    app.state.rate_limiter = RateLimiter()
    app.state.metrics = ServiceMetrics(engine)
    # Middleware added last runs first: the size of a body is checked before it is parsed, and
    # every request, refused or not, is logged and counted.
    app.add_middleware(StrictJsonBodies)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.serving.max_body_bytes,
        upload_max_bytes=settings.planning.boundary_upload_max_bytes,
        upload_paths=("/boundaries/drafts", "/attachments/"),
    )
    app.add_middleware(RequestLog, metrics=app.state.metrics)
    errors.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(auth.router)
    app.include_router(audit.router)
    app.include_router(locate.router)
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
    app.include_router(tiles.router)
    app.include_router(map_page.router)
    app.include_router(pages.router)
    app.include_router(analysis.router)
    app.include_router(rules.router)
    app.include_router(county.router)
    return app
