"""``GET /metrics``: the service's metrics for Prometheus (``geo_service.metrics``).

No user token is needed: a scraper is not a county's user. Where the metrics should not be open
to everyone who reaches the port, ``serving.metrics_token`` (``GEO_SERVICE_METRICS_TOKEN``) makes
the scraper send it as a bearer token (Prometheus: ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

router = APIRouter()


def _refused(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "Unauthenticated", "message": message, "field": "Authorization"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    token = request.app.state.settings.serving.metrics_token
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return _refused("the metrics need the scrape token: send `Authorization: Bearer <metrics token>`")
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return _refused("this is not the metrics token (GEO_SERVICE_METRICS_TOKEN)")
    return Response(request.app.state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)
