"""``/tiles``: vector tiles of the declared layers, their TileJSON and the map's MapLibre style."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from geo_service.api.dependencies import current_principal
from geo_service.auth.principal import Principal
from geo_service.errors import InvalidInput
from geo_service.i18n import LANGUAGES, Language, negotiate, t
from geo_service.tiles.http import accepts_gzip, etag_matches, gzip_etag
from geo_service.tiles.layers import load_layers
from geo_service.tiles.service import COMBINED, TileAnswer, TileService, display_datum
from geo_service.tiles.style import combined_tilejson, style_document, tilejson

MVT = "application/vnd.mapbox-vector-tile"


def _make_service(state) -> TileService:
    return TileService(
        state.engine, load_layers(), state.settings.place, cache_bytes=state.settings.serving.tile_cache_mb << 20
    )


@asynccontextmanager
async def _check_layers(app: FastAPI):
    """Read and check the layer files when the service starts: a broken one stops the start."""
    app.state.tiles = _make_service(app.state)
    yield


# Every layer, style and tile is for a signed-in user (the dependency runs once per request, and
# get_tile receives the same principal).
router = APIRouter(prefix="/tiles", tags=["map"], lifespan=_check_layers, dependencies=[Depends(current_principal)])


def tile_service(request: Request) -> TileService:
    """The app's tile service (made at start, or on first use where the app was not started)."""
    state = request.app.state
    service = getattr(state, "tiles", None)
    if service is None:
        service = state.tiles = _make_service(state)
    return service


def _query(request: Request) -> dict[str, list[str]]:
    return {key: request.query_params.getlist(key) for key in request.query_params.keys()}


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("", summary="The declared map layers")
def list_layers(request: Request) -> JSONResponse:
    service = tile_service(request)
    base = _base_url(request)
    return JSONResponse(
        {
            "layers": [
                {
                    "name": layer.name,
                    "title": layer.title,
                    "description": layer.description,
                    "minzoom": layer.minzoom,
                    "maxzoom": layer.maxzoom,
                    "geometry_type": layer.geometry_type,
                    "parameters": sorted(layer.parameters),
                    "tilejson": f"{base}/tiles/{layer.name}.json",
                }
                for layer in service.layers.values()
            ],
            "style": f"{base}/tiles/style.json",
            # Every boundary layer in one tile source, with a style drawing from it (for QGIS).
            "combined": {
                "name": COMBINED,
                "layers": [layer.name for layer in service.layers_of(COMBINED)],
                "tilejson": f"{base}/tiles/{COMBINED}.json",
                "style": f"{base}/tiles/style.json?combined=true",
            },
        }
    )


def _language(request: Request, asked: list[str] | None) -> Language:
    """The language a style names its layers in: ``lang`` if given, else the reader's."""
    if not asked:
        return negotiate(request.headers.get("accept-language"))
    if asked[-1] not in LANGUAGES:
        raise InvalidInput(t("lang: {lang!r} is not one of zh, en", lang=asked[-1]), field="lang")
    return asked[-1]  # type: ignore[return-value]


@router.get("/style.json", summary="MapLibre style document drawing every layer")
def get_style(request: Request) -> JSONResponse:
    """Query: `datum` (the basemap's: wgs84, gcj02, bd09; default the settings' basemap datum),
    `at` or `version` (the boundary versions, one id per county, comma-separated; default in force now) and the incident filters
    (`start`, `end`, `category`, `status`), written into the tile addresses; `lang` (zh or en;
    default from Accept-Language, else Chinese), the language of the layers' titles."""
    service = tile_service(request)
    settings = request.app.state.settings
    query = _query(request)
    datum = display_datum((query.get("datum") or [settings.map.basemap_datum])[-1])
    combined = (query.pop("combined", None) or ["false"])[-1].lower() in ("true", "1", "yes")
    language = _language(request, query.pop("lang", None))
    with service.engine.connect() as connection:
        filters = service.style_filters(connection, query)
        boundaries = service.version_asked(connection, query)
        bounds = service.county_bounds(connection, boundaries)
    style = style_document(
        _base_url(request),
        service.layers,
        boundaries.ids,
        bounds if datum == "wgs84" else None,
        datum,
        filters,
        settings.map.basemap_url,
        settings.map.basemap_attribution,
        combined=COMBINED if combined else None,
        language=language,
    )
    return JSONResponse(style, headers={"Cache-Control": "no-cache"})


@router.get("/{layer}.json", summary="TileJSON of one layer")
def get_tilejson(request: Request, layer: str = Path(..., description="A declared layer's name.")) -> JSONResponse:
    service = tile_service(request)
    query = _query(request)
    datum = display_datum((query.get("datum") or [None])[-1])
    if layer == COMBINED:
        with service.engine.connect() as connection:
            boundaries = service.version_asked(connection, query)
            bounds = service.county_bounds(connection, boundaries)
        document = combined_tilejson(
            _base_url(request), COMBINED, service.layers_of(COMBINED), boundaries.ids, bounds, datum
        )
        return JSONResponse(document, headers={"Cache-Control": "no-cache"})
    spec = service.layer(layer)
    with service.engine.connect() as connection:
        values = service.parameters(connection, spec, query)
        boundaries = service.version_asked(connection, query)
        bounds = service.county_bounds(connection, boundaries)
    raw = {name: query[name][-1] for name in values}
    return JSONResponse(
        tilejson(_base_url(request), spec, boundaries.ids, bounds, datum, raw), headers={"Cache-Control": "no-cache"}
    )


@router.get(
    "/{layer}/{z}/{x}/{y}.mvt",
    summary="One vector tile",
    response_class=Response,
    responses={
        200: {"content": {MVT: {}}},
        204: {"description": "No feature in this tile"},
        304: {"description": "Not modified (If-None-Match)"},
    },
)
async def get_tile(
    request: Request, layer: str, z: int, x: int, y: int, principal: Principal = Depends(current_principal)
) -> Response:
    """A Mapbox Vector Tile of one layer made by PostGIS. Query: `version` (a published boundary
    version; default the one in force, or the one in force `at`), `datum` (gcj02 or bd09 shifts the
    features onto such a basemap), and the layer's own parameters (see its TileJSON). Empty tiles
    answer 204. `ETag` and `Cache-Control` are set; `If-None-Match` answers 304; gzip-encoded when
    the client accepts it (`Accept-Encoding`)."""
    service = tile_service(request)
    query = _query(request)
    gzip = accepts_gzip(request.headers.get("accept-encoding"))
    # A kept boundary tile is answered here, on the event loop: no thread, no query. Any other is
    # drawn on a worker thread, as every blocking call is.
    answer = service.kept_tile(layer, z, x, y, query, principal)
    if answer is None:
        answer = await run_in_threadpool(_draw, service, layer, z, x, y, query, principal, gzip)
    return tile_response(answer, gzip, request.headers.get("if-none-match"))


def _draw(
    service: TileService, layer: str, z: int, x: int, y: int, query: dict, principal: Principal, gzip: bool
) -> TileAnswer:
    answer = service.tile(layer, z, x, y, query, principal)
    if gzip and answer.body:
        _ = answer.kept.gzipped  # encoded (and kept) on this thread, not on the event loop
    return answer


def tile_response(answer: TileAnswer, gzip: bool, if_none_match: str | None) -> Response:
    """The HTTP answer of a tile: 304 when the client holds it, 204 when empty, else its bytes,
    gzip-encoded when the client accepts it (with its own validator, as RFC 9110 asks of a
    representation in another coding)."""
    headers = {"Cache-Control": answer.cache_control, "Vary": "Accept-Encoding"}
    encoded = gzip and bool(answer.body)
    headers["ETag"] = gzip_etag(answer.etag) if encoded else answer.etag
    if if_none_match is not None and etag_matches(if_none_match, answer.etag):
        return Response(status_code=304, headers=headers)
    if not answer.body:
        return Response(status_code=204, headers=headers)
    if encoded:
        headers["Content-Encoding"] = "gzip"
        return Response(answer.kept.gzipped, media_type=MVT, headers=headers)
    return Response(answer.body, media_type=MVT, headers=headers)
