"""OGC API - Features at ``/features``: landing page, its own API definition, conformance,
collections, queryables, items (CQL2 filters, sorting, keyset pages), one item.

QGIS ("WFS / OGC API - Features" connection, Basic sign-in), GDAL (``OAPIF:``) and OWSLib read it.
See ``geo_service.ogc``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from geo_service import ogc
from geo_service.api.auth import current_principal
from geo_service.auth.principal import Principal
from geo_service.ogc.openapi import OPENAPI_MEDIA, features_api

router = APIRouter(prefix="/features", tags=["OGC API - Features"])
GEOJSON = "application/geo+json"
JSON = "application/json"
SCHEMA = "application/schema+json"
RESERVED = {
    "bbox",
    "bbox-crs",
    "datetime",
    "limit",
    "offset",
    "cursor",
    "crs",
    "f",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
}
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + router.prefix


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict:
    return {"href": href, "rel": rel, "type": media, **({"title": title} if title else {})}


@router.get("", include_in_schema=False)
@router.get("/", summary="Landing page")
def landing(request: Request) -> JSONResponse:
    base = _base(request)
    return JSONResponse(
        {
            "title": "geo_service features",
            "description": "Towns, villages, grids (per boundary version), cameras and incidents of the county.",
            "links": [
                _link(f"{base}/", "self", JSON, "this document"),
                _link(f"{base}/api", "service-desc", OPENAPI_MEDIA, "the API definition"),
                _link(str(request.base_url) + "docs", "service-doc", "text/html", "the API documentation"),
                _link(f"{base}/conformance", "conformance", JSON, "conformance classes"),
                _link(f"{base}/collections", "data", JSON, "collections"),
            ],
        }
    )


@router.get("/api", include_in_schema=False)
def api_definition(request: Request, principal: Principal = Depends(current_principal)) -> JSONResponse:
    """The features API's own OpenAPI document, as OGC clients read it (``geo_service.ogc.openapi``)."""
    listed = [c for c in ogc.STATIC.values() if principal.can(c.permission)]
    document = features_api(_base(request), listed, "geo_service features")
    return JSONResponse(document, media_type=OPENAPI_MEDIA)


@router.get("/conformance", summary="Conformance classes")
def conformance() -> JSONResponse:
    return JSONResponse({"conformsTo": ogc.CONFORMANCE})


def _collection_document(request: Request, c: ogc.Collection, connection, principal: Principal) -> dict:
    base = _base(request)
    return {
        "id": c.id,
        "title": c.title,
        "description": c.description,
        "itemType": "feature",
        "extent": ogc.extent(connection, c, request.app.state.settings.place.timezone, principal.jurisdiction),
        "crs": list(ogc.SUPPORTED_CRS),
        "storageCrs": ogc.STORAGE_CRS,
        "links": [
            _link(f"{base}/collections/{c.id}", "self", JSON),
            _link(f"{base}/collections/{c.id}/items", "items", GEOJSON, "the features"),
            _link(f"{base}/collections/{c.id}/queryables", QUERYABLES_REL, SCHEMA, "the queryable properties"),
            _link(f"{base}/collections/{c.id}/queryables", "queryables", SCHEMA, "the queryable properties"),
        ],
    }


@router.get("/collections", summary="The collections")
def get_collections(request: Request, principal: Principal = Depends(current_principal)) -> JSONResponse:
    """The collections the user's role may read."""
    with request.app.state.engine.connect() as connection:
        documents = [
            _collection_document(request, c, connection, principal)
            for c in ogc.collections(connection)
            if principal.can(c.permission)
        ]
    return JSONResponse(
        {
            "links": [_link(f"{_base(request)}/collections", "self", JSON)],
            "collections": documents,
            "crs": list(ogc.SUPPORTED_CRS),
        }
    )


@router.get("/collections/{collection_id}", summary="One collection")
def get_collection(
    request: Request, collection_id: str, principal: Principal = Depends(current_principal)
) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        c = ogc.collection(connection, collection_id)
        principal.require(c.permission)
        return JSONResponse(_collection_document(request, c, connection, principal))


@router.get("/collections/{collection_id}/queryables", summary="The properties a filter may use (JSON Schema)")
def get_queryables(
    request: Request, collection_id: str, principal: Principal = Depends(current_principal)
) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        c = ogc.collection(connection, collection_id)
    principal.require(c.permission)
    return JSONResponse(c.queryables(str(request.url)), media_type=SCHEMA)


@router.get("/collections/{collection_id}/items", summary="Features of a collection, a page at a time")
def get_items(
    request: Request,
    collection_id: str,
    bbox: str | None = Query(None, description="minx,miny,maxx,maxy in `bbox-crs` (default CRS84: lon,lat)."),
    bbox_crs: str | None = Query(None, alias="bbox-crs"),
    datetime_: str | None = Query(
        None,
        alias="datetime",
        description="An instant or an interval (`a/b`, `..` open). Grids and admin units: the version in force at the instant.",
    ),
    # The range is documented but checked by ogc.items, which answers 400 as OGC API does.
    limit: int = Query(
        ogc.DEFAULT_LIMIT,
        description=f"1 to {ogc.MAX_LIMIT}.",
        json_schema_extra={"minimum": 1, "maximum": ogc.MAX_LIMIT},
    ),
    offset: int = Query(0, description="Rows to skip (the cursor of the 'next' link is faster at depth)."),
    cursor: str | None = Query(None, description="Where the page starts: the 'next' link carries it."),
    crs: str | None = Query(None, description="Output CRS URI (default CRS84)."),
    filter_: str | None = Query(None, alias="filter", description="A CQL2 filter over the queryables."),
    filter_lang: str | None = Query(None, alias="filter-lang", description="cql2-text (default) or cql2-json."),
    filter_crs: str | None = Query(None, alias="filter-crs"),
    sortby: str | None = Query(None, description="Sort keys, comma-separated, '-' for descending."),
    principal: Principal = Depends(current_principal),
) -> JSONResponse:
    asked = ogc.PageRequest(
        bbox=bbox,
        bbox_crs=bbox_crs,
        datetime=datetime_,
        limit=limit,
        offset=offset,
        cursor=cursor,
        crs=crs,
        filters={k: v for k, v in request.query_params.items() if k not in RESERVED},
        filter=filter_,
        filter_lang=filter_lang,
        filter_crs=filter_crs,
        sortby=sortby,
    )
    settings = request.app.state.settings
    with request.app.state.engine.connect() as connection:
        principal.require(ogc.collection(connection, collection_id).permission)
        page = ogc.items(connection, collection_id, asked, zone=settings.place.timezone, scope=principal.jurisdiction)
    uri = page.pop("crs")
    after = page.pop("next_cursor")
    self_url = request.url
    links = [
        _link(str(self_url), "self", GEOJSON),
        _link(f"{_base(request)}/collections/{collection_id}", "collection", JSON),
    ]
    if after is not None:
        following = self_url.remove_query_params("offset").include_query_params(cursor=after, limit=limit)
        links.append(_link(str(following), "next", GEOJSON))
    if offset > 0 and cursor is None:
        links.append(
            _link(str(self_url.include_query_params(offset=max(0, offset - limit), limit=limit)), "prev", GEOJSON)
        )
    page["links"] = links
    page["timeStamp"] = datetime.now(UTC).isoformat(timespec="seconds")
    return JSONResponse(page, media_type=GEOJSON, headers={"Content-Crs": f"<{uri}>"})


@router.get("/collections/{collection_id}/items/{feature_id}", summary="One feature")
def get_item(
    request: Request,
    collection_id: str,
    feature_id: str,
    crs: str | None = Query(None),
    principal: Principal = Depends(current_principal),
) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        principal.require(ogc.collection(connection, collection_id).permission)
        feature = ogc.item(
            connection,
            collection_id,
            feature_id,
            crs=crs,
            zone=request.app.state.settings.place.timezone,
            scope=principal.jurisdiction,
        )
    uri = feature.pop("crs")
    feature["links"] = [
        _link(str(request.url), "self", GEOJSON),
        _link(f"{_base(request)}/collections/{collection_id}", "collection", JSON),
    ]
    return JSONResponse(feature, media_type=GEOJSON, headers={"Content-Crs": f"<{uri}>"})
