"""The OpenAPI document of ``/features`` as OGC clients read it (``/features/api``).

QGIS and GDAL read an OGC API's own definition, found from the landing page's ``service-desc``
link, with paths relative to that landing page: ``/collections/{id}/items`` for each collection,
its query parameters naming the properties a client may filter on (QGIS sends an attribute filter
to the server only for a parameter declared ``style: form, explode: false``; GDAL likewise), and
``components/parameters/limit`` with its ``maximum`` and ``default`` (the page size QGIS then
uses). The service's own ``/openapi.json`` keeps the one generic route.
"""

from __future__ import annotations

from geo_service.ogc.collections import DEFAULT_LIMIT, MAX_LIMIT, Collection
from geo_service.ogc.cql import LANGUAGES

OPENAPI_MEDIA = "application/vnd.oai.openapi+json;version=3.0"
_STANDARD = {
    "bbox": ("minx,miny,maxx,maxy in bbox-crs (default CRS84: lon,lat).", {"type": "string"}),
    "bbox-crs": ("The CRS of bbox (EPSG:4490, CRS84, ...).", {"type": "string"}),
    "datetime": ("An instant or an interval (a/b, '..' open).", {"type": "string"}),
    "crs": ("The CRS of the answer (EPSG:4490, CRS84, ...).", {"type": "string"}),
    "cursor": ("Where a page starts: follow the 'next' link, which carries it.", {"type": "string"}),
    "offset": ("Rows to skip (the cursor is faster at depth).", {"type": "integer", "minimum": 0}),
    "filter": ("A CQL2 filter (see filter-lang) over the queryables.", {"type": "string"}),
    "filter-lang": ("cql2-text (default) or cql2-json.", {"type": "string", "enum": list(LANGUAGES)}),
    "filter-crs": ("The CRS of the filter's geometries (CRS84 or EPSG:4490).", {"type": "string"}),
    "sortby": ("Sort keys, comma-separated, '-' for descending.", {"type": "string"}),
}


def _parameter(name: str, description: str, schema: dict) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "style": "form",
        "explode": False,
        "schema": schema,
    }


def _items_path(c: Collection) -> dict:
    parameters = [{"$ref": "#/components/parameters/limit"}]
    parameters += [_parameter(name, *spec) for name, spec in _STANDARD.items()]
    parameters += [
        _parameter(name, f"Only features whose {name} equals this.", c.schema(name))
        for name in c.filters
        if name not in _STANDARD
    ]
    return {
        "get": {
            "summary": f"{c.title}: a page of features",
            "operationId": f"getFeatures_{c.id}",
            "tags": [c.id],
            "parameters": parameters,
            "responses": {
                "200": {"description": "A page of features", "content": {"application/geo+json": {"schema": {}}}},
                "400": {"description": "A parameter cannot be used (the message names it)"},
                "401": {"description": "Not signed in (Bearer, or Basic with the token as password)"},
            },
        }
    }


def features_api(base_url: str, collections: list[Collection], title: str) -> dict:
    """The OpenAPI 3.0 document of the features API at ``base_url`` (the landing page)."""
    paths: dict = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "responses": {"200": _ok()}}},
        "/conformance": {
            "get": {"summary": "Conformance", "operationId": "getConformance", "responses": {"200": _ok()}}
        },
        "/collections": {
            "get": {"summary": "Collections", "operationId": "getCollections", "responses": {"200": _ok()}}
        },
    }
    for c in collections:
        paths[f"/collections/{c.id}"] = {
            "get": {"summary": c.title, "operationId": f"describeCollection_{c.id}", "responses": {"200": _ok()}}
        }
        paths[f"/collections/{c.id}/items"] = _items_path(c)
        paths[f"/collections/{c.id}/queryables"] = {
            "get": {
                "summary": f"{c.title}: queryables",
                "operationId": f"getQueryables_{c.id}",
                "responses": {"200": _ok()},
            }
        }
        paths[f"/collections/{c.id}/items/{{featureId}}"] = {
            "get": {
                "summary": f"{c.title}: one feature",
                "operationId": f"getFeature_{c.id}",
                "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _ok(), "404": {"description": "No such feature (or not yours to see)"}},
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1.0", "description": "OGC API - Features, Parts 1, 2 and 3."},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {
            "parameters": {
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": f"Features per page, 1 to {MAX_LIMIT:,}.",
                    "style": "form",
                    "explode": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "basic": {"type": "http", "scheme": "basic", "description": "Your user name; your token as password."},
            },
        },
        "security": [{"bearer": []}, {"basic": []}],
    }


def _ok() -> dict:
    return {"description": "OK", "content": {"application/json": {"schema": {}}}}
