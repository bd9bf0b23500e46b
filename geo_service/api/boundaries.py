"""Planners' endpoints: boundary versions, draft upload, checks, impact, workload, publishing, export."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from geo_service.api.dependencies import Moment, ReaderLanguage, allow
from geo_service.api.limits import expensive
from geo_service.auth.principal import Principal
from geo_service.boundaries.checks import check_version
from geo_service.boundaries.drafts import county_of, import_draft, retire_draft
from geo_service.boundaries.export import export_version
from geo_service.boundaries.file_reading import read_boundary_file
from geo_service.boundaries.impact import draft_impact, impact_map
from geo_service.boundaries.publishing import publish, repair_draft
from geo_service.boundaries.versions import Version, find_version, phases_now, with_phases_now
from geo_service.boundaries.workload import compare_workload
from geo_service.errors import InvalidInput, NotFound, TooLarge
from geo_service.i18n import t
from geo_service.vocabulary import Datum

router = APIRouter(prefix="/boundaries", tags=["planning"])
READ = Depends(allow("boundaries.read"))
PLAN = READ  # and the version's whole county in the user's jurisdiction (see _version)
WRITE = Depends(allow("boundaries.write"))
UPLOAD_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip")


def _version_dict(version, phase: str) -> dict:
    return {**version.to_dict(), "phase": phase}


def _version(request: Request, ref: str | None, principal: Principal, *, plan: bool = True) -> Version | None:
    """The version ``ref`` if the user may see it: a version of a county their jurisdiction holds or
    lies in (another county's is not found, as if it did not exist); to ``plan`` with it, the
    whole county must be theirs."""
    if ref is None:
        return None
    with request.app.state.engine.connect() as connection:
        found = find_version(connection, ref)
    scope = principal.jurisdiction
    if not (scope.meets_county(found.county_code) or (found.county_code is None and scope.whole_deployment)):
        raise NotFound(t("no boundary version {ref!r}", ref=ref), field="version")
    if plan:
        principal.require_county_of(found.county_code, "planning the boundaries")
    return found


@router.get("/versions", summary="Boundary versions with their phase now")
def get_versions(request: Request, principal: Principal = READ) -> JSONResponse:
    scope = principal.jurisdiction
    with request.app.state.engine.connect() as connection:
        return JSONResponse(
            [
                _version_dict(v, phase)
                for v, phase in with_phases_now(connection)
                if scope.meets_county(v.county_code) or (v.county_code is None and scope.whole_deployment)
            ]
        )


@router.get("/versions/{version}", summary="One boundary version, by id or name")
def get_version(request: Request, version: str, principal: Principal = READ) -> JSONResponse:
    found = _version(request, version, principal, plan=False)
    with request.app.state.engine.connect() as connection:
        return JSONResponse(_version_dict(found, phases_now(connection)[found.id]))


@router.post("/drafts", status_code=201, summary="Import a draft from an uploaded file")
def post_draft(
    request: Request,
    file: UploadFile = File(..., description="GeoJSON, GeoPackage or zipped Shapefile of grids."),
    crs: Datum | None = Form(None, description="Datum of the coordinates; default the file's own CRS."),
    layer: str | None = Form(None, description="The layer holding the grids, if the file has several."),
    name: str | None = Form(None, description="Name of the new draft."),
    note: str | None = Form(None),
    partial: bool = Form(False, description="The file redraws only the villages it has grids in."),
    into: str | None = Form(None, description="A draft (id or name) whose grids the file replaces."),
    principal: Principal = WRITE,
) -> JSONResponse:
    """All or nothing: a file with any problem answers 422 listing every problem (feature number,
    code, field, reason) and stores nothing. The answer counts the checks' findings per kind;
    read them at `/boundaries/versions/{id}/checks`."""
    settings = request.app.state.settings
    suffix = Path(file.filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise InvalidInput(
            t(
                "{filename!r}: upload a {UPLOAD_SUFFIXES} file",
                filename=file.filename,
                UPLOAD_SUFFIXES=", ".join(UPLOAD_SUFFIXES),
            ),
            field="file",
        )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, 1 << 20)
        if path.stat().st_size > settings.planning.boundary_upload_max_bytes:
            raise TooLarge(
                t(
                    "{filename} is {st_size} bytes; at most {boundary_upload_max_bytes} are accepted",
                    filename=file.filename,
                    st_size=path.stat().st_size,
                    boundary_upload_max_bytes=settings.planning.boundary_upload_max_bytes,
                ),
                field="file",
            )
        boundary_file = read_boundary_file(
            path,
            crs=crs,
            layer=layer,
            source_name=file.filename,
            max_features=settings.planning.boundary_import_max_features,
        )
        principal.require_county_of(county_of(boundary_file.grids, boundary_file.source), "importing boundaries")
        _version(request, into, principal)
        result = import_draft(
            request.app.state.engine,
            boundary_file,
            name=name,
            note=note,
            partial=partial,
            into=into,
            settings=settings,
            actor=principal.name,
        )
    return JSONResponse(result.to_dict(), status_code=201)


@router.get("/versions/{version}/checks", summary="What is wrong with a version, located (GeoJSON)")
def get_checks(request: Request, version: str, language: ReaderLanguage, principal: Principal = PLAN) -> JSONResponse:
    """Each problem's `message` in the reader's language (Chinese unless `Accept-Language` asks
    for English)."""
    found = _version(request, version, principal)
    with request.app.state.engine.begin() as connection:
        report = check_version(connection, found.id, settings=request.app.state.settings)
    return JSONResponse(report.to_geojson(language), media_type="application/geo+json")


@router.post("/versions/{version}/repair", summary="Accept the repaired shapes of a draft's invalid grids")
def post_repair(
    request: Request, version: str, codes: list[str] | None = Query(None), principal: Principal = WRITE
) -> JSONResponse:
    _version(request, version, principal)
    return JSONResponse({"repaired": repair_draft(request.app.state.engine, version, codes, actor=principal.name)})


@router.get("/versions/{version}/impact", summary="What a draft would change against the version in force")
def get_impact(
    request: Request,
    version: str,
    base: str | None = Query(None, description="Compare with this version instead of the one in force."),
    months: int | None = Query(None, ge=1, le=120, description="Count the incidents of this many recent months."),
    principal: Principal = PLAN,
) -> JSONResponse:
    _version(request, version, principal)
    _version(request, base, principal)
    impact = draft_impact(
        request.app.state.engine, version, base=base, months=months, settings=request.app.state.settings
    )
    return JSONResponse(impact.to_dict())


@router.get(
    "/versions/{version}/impact/map",
    response_class=HTMLResponse,
    summary="The changed grids on a map (self-contained HTML)",
)
def get_impact_map(
    request: Request, version: str, base: str | None = Query(None), principal: Principal = PLAN
) -> HTMLResponse:
    from geo_service.maps import to_html

    _version(request, version, principal)
    _version(request, base, principal)
    engine = request.app.state.engine
    impact = draft_impact(engine, version, base=base, settings=request.app.state.settings)
    return HTMLResponse(to_html(impact_map(engine, impact)))


@router.get("/versions/{version}/workload", summary="Load per grid worker now and under a draft")
def get_workload(
    request: Request,
    version: str,
    base: str | None = Query(None),
    months: int | None = Query(None, ge=1, le=120),
    villages: list[str] | None = Query(None, description="Only these villages (12-digit codes)."),
    principal: Principal = PLAN,
) -> JSONResponse:
    _version(request, version, principal)
    _version(request, base, principal)
    return JSONResponse(
        compare_workload(
            request.app.state.engine,
            version,
            base=base,
            months=months,
            villages=villages,
            settings=request.app.state.settings,
        )
    )


class Publication(BaseModel):
    effective_from: Moment = Field(..., description="When the version takes effect (no zone = the county's time).")


@router.post("/versions/{version}/publish", summary="Publish a draft from a moment on")
def post_publish(request: Request, version: str, body: Publication, principal: Principal = WRITE) -> JSONResponse:
    _version(request, version, principal)
    published = publish(
        request.app.state.engine,
        version,
        body.effective_from,
        settings=request.app.state.settings,
        actor=principal.name,
    )
    return JSONResponse(published.to_dict())


@router.post("/versions/{version}/retire", summary="Set a draft aside for good")
def post_retire(request: Request, version: str, principal: Principal = WRITE) -> JSONResponse:
    _version(request, version, principal)
    return JSONResponse(retire_draft(request.app.state.engine, version, actor=principal.name).to_dict())


@router.get("/versions/{version}/export", summary="A version as GeoJSON (grids) or GeoPackage (all layers)")
def get_export(
    request: Request,
    version: str,
    format: str = Query("gpkg", pattern="^(gpkg|geojson)$"),
    crs: Datum = Query("cgcs2000", description="Datum of the file's coordinates."),
    principal: Principal = PLAN,
    _: None = Depends(expensive),
) -> FileResponse:
    name = _version(request, version, principal).name
    folder = tempfile.mkdtemp()
    path = export_version(request.app.state.engine, version, Path(folder) / f"{name}-{crs}.{format}", datum=crs)
    media = "application/geo+json" if format == "geojson" else "application/geopackage+sqlite3"
    return FileResponse(
        path, media_type=media, filename=path.name, background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    )
