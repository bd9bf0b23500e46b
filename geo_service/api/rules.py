"""Administrators' endpoints: the rule tables read, replaced, imported from files and exported.

Every route needs the ``rules.admin`` permission over the whole county. A change is checked in
full before anything is written (422 listing every problem by file, row and column; 409 naming a
row still in use), audited, and in effect for the next request. Summaries and reasons are in the
reader's language (``Accept-Language``; Chinese when it names neither).
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from enum import Enum
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Body, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from geo_service.api.dependencies import ReaderLanguage, allow
from geo_service.auth.principal import Principal
from geo_service.i18n import Language
from geo_service.rules.admin import RulesChange, export_rules, import_uploads, read_rules, replace_table
from geo_service.rules.tables import TABLES

router = APIRouter(prefix="/rules", tags=["rules"])
ADMIN = Depends(allow("rules.admin", whole="changing the rules"))
RuleName = Enum("RuleName", {name: name for name in TABLES}, type=str)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHANGE_DOC = (
    "The answer says, per table, the keys added, removed and changed (a key's parts joined by `/`, "
    "`*` for empty). 422: every problem, as `problems: [{file, row, column, reason}]`; 409: a row "
    "still in use (a category of recorded incidents, a role officers hold); either way nothing is changed. "
    "`summary` and each `reason` are in the reader's language (Accept-Language; Chinese by default)."
)
Cell = str | int | float | bool | None


@router.get("", summary="Every rule table, as rows")
def get_rules(request: Request, principal: Principal = ADMIN) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        return JSONResponse(read_rules(connection))


@router.get(
    "/export",
    summary="The rule tables as one workbook (a sheet per table) or a zip of CSV files",
    response_class=Response,
    responses={200: {"content": {XLSX: {}, "application/zip": {}}}},
)
def get_export(
    request: Request,
    format: Literal["xlsx", "zip"] = Query("xlsx", description="xlsx: one workbook; zip: a CSV file per table."),
    principal: Principal = ADMIN,
) -> Response:
    with tempfile.TemporaryDirectory() as folder, request.app.state.engine.connect() as connection:
        paths = export_rules(connection, Path(folder), fmt="xlsx" if format == "xlsx" else "csv")
        if format == "xlsx":
            content, media, name = paths[0].read_bytes(), XLSX, "rules.xlsx"
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in paths:
                    archive.write(path, path.name)
            content, media, name = buffer.getvalue(), "application/zip", "rules.zip"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post(
    "/import",
    summary="Replace the rule tables given as uploaded CSV, xlsx or zip files",
    description="Tables not given stay as they are. " + CHANGE_DOC,
)
def post_import(
    request: Request,
    language: ReaderLanguage,
    files: list[UploadFile] = File(
        ..., description="Files named after their tables (time_limits.csv), workbooks with a sheet per table, or zips."
    ),
    dry_run: bool = Form(False, description="Check and say what would change; store nothing."),
    principal: Principal = ADMIN,
) -> JSONResponse:
    uploads = [(upload.filename or "upload", upload.file.read()) for upload in files]
    with request.app.state.engine.begin() as connection:
        change = import_uploads(connection, uploads, actor=principal.name, dry_run=dry_run)
    return _answer(change, language)


@router.get("/{table}", summary="One rule table, as rows")
def get_table(request: Request, table: RuleName, principal: Principal = ADMIN) -> JSONResponse:
    with request.app.state.engine.connect() as connection:
        return JSONResponse(read_rules(connection, [table.value])[table.value])


@router.put(
    "/{table}",
    summary="Replace one rule table with the rows given",
    description="The table becomes exactly the rows given. " + CHANGE_DOC,
)
def put_table(
    request: Request,
    table: RuleName,
    language: ReaderLanguage,
    rows: list[dict[str, Cell]] = Body(..., description="Every row of the table, as `GET /rules/{table}` gives them."),
    dry_run: bool = Query(False, description="Check and say what would change; store nothing."),
    principal: Principal = ADMIN,
) -> JSONResponse:
    with request.app.state.engine.begin() as connection:
        change = replace_table(connection, table.value, rows, actor=principal.name, dry_run=dry_run)
    return _answer(change, language)


def _answer(change: RulesChange, language: Language) -> JSONResponse:
    return JSONResponse(change.to_dict(language), headers={"Content-Language": language})
