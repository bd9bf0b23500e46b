"""``POST /county/import``: an administrator uploads a county's files and gets the import's report."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path, PurePath

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import JSONResponse

from geo_service.api.dependencies import EngineDep, ReaderLanguage, SettingsDep, allow
from geo_service.auth.principal import Principal
from geo_service.county.load import crs_options, import_county
from geo_service.errors import InvalidInput, TooLarge
from geo_service.i18n import t

router = APIRouter(prefix="/county", tags=["county"])
ADMIN = Depends(allow("county.import"))


@router.post("/import", summary="Import a county's files (boundaries, roster, cameras, past cases)")
def post_import(
    engine: EngineDep,
    settings: SettingsDep,
    language: ReaderLanguage,
    files: list[UploadFile] = File(
        ..., description="The county's files: zipped Shapefiles, GeoPackages, GeoJSON, CSV, xlsx."
    ),
    crs: list[str] = Form([], description="DATUM for files that do not say theirs, or FILE=DATUM (repeatable)."),
    dry_run: bool = Form(False, description="Check everything, store nothing."),
    skip_bad_rows: bool = Form(False, description="Load the good rows and list the others."),
    notify_open: bool = Form(False, description="Tell the people bound to the open cases imported."),
    principal: Principal = ADMIN,
) -> JSONResponse:
    """200 with the report (`files`, `problems` with row and column, `gaps`, `stored`); 422 with
    the same report when errors stopped the import, so nothing was stored. Each problem's `reason`
    is in the reader's language (`Accept-Language`; Chinese when it names neither)."""
    limit = settings.planning.boundary_upload_max_bytes
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for upload in files:
            name = PurePath(upload.filename or "").name
            if not name or name.startswith("."):
                raise InvalidInput(
                    t("an uploaded file has no usable name ({filename!r})", filename=upload.filename), field="files"
                )
            path = Path(folder) / name
            with path.open("wb") as out:
                shutil.copyfileobj(upload.file, out, 1 << 20)
            if path.stat().st_size > limit:
                raise TooLarge(
                    t(
                        "{name} is {st_size} bytes; at most {limit} are accepted",
                        name=name,
                        st_size=path.stat().st_size,
                        limit=limit,
                    ),
                    field="files",
                )
            paths.append(path)
        default, by_file = crs_options(crs)
        report = import_county(
            engine,
            paths,
            settings=settings,
            actor=principal.name,
            crs=default,
            crs_by_file=by_file,
            dry_run=dry_run,
            skip_bad_rows=skip_bad_rows,
            notify_open=notify_open,
            scope=principal.jurisdiction,
        )
    status = 422 if report.error_count and not report.stored and not dry_run else 200
    return JSONResponse(report.to_dict(language), status_code=status, headers={"Content-Language": language})
