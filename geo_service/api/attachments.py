"""Photos and short videos of a case: uploaded, listed and served to those who may see the case.

Every route sits under ``/attachments``, the prefix the body limit lets grow to
``settings.cases.attachment_max_bytes`` (``geo_service.api.app``). An upload is read from a
multipart body whose size is counted as it arrives: a file over the limit is refused (413) before
the rest of it is received, and the case is checked before the body is read at all, so a case the
user may not see costs them a 404 and no upload.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from geo_service.api.dependencies import EngineDep, SettingsDep, allow
from geo_service.api.json_bodies import UnsupportedMediaType
from geo_service.auth.principal import Principal
from geo_service.cases import attachments
from geo_service.cases.queries import require_visible
from geo_service.errors import InvalidInput
from geo_service.i18n import t

router = APIRouter(prefix="/attachments", tags=["attachments"])
# What a multipart body may carry beside the file itself: its boundaries and part headers.
MULTIPART_SLACK = 64 * 1024
FIELD = "file"


def _multipart(description: str) -> dict:
    """The OpenAPI description of a body of one file (routes read it themselves, as it streams)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [FIELD],
                        "properties": {FIELD: {"type": "string", "format": "binary", "description": description}},
                    }
                }
            },
        }
    }


async def _counted(request: Request, limit: int, max_bytes: int) -> AsyncIterator[bytes]:
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit:
            raise attachments.too_large(max_bytes)
        yield chunk


async def _uploaded_file(request: Request, max_bytes: int) -> UploadFile:
    """The one file of a multipart body, refused while it arrives once it is over ``max_bytes``."""
    limit = max_bytes + MULTIPART_SLACK
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise attachments.too_large(max_bytes)
    content_type = request.headers.get("content-type")
    if (content_type or "").split(";")[0].strip().lower() != "multipart/form-data":
        raise UnsupportedMediaType(
            t(
                "send the photo or video as multipart/form-data with the file in the field {field!r}; the body came as {content_type}",
                field=FIELD,
                content_type=content_type or "-",
            ),
            field="body",
        )
    parser = MultiPartParser(request.headers, _counted(request, limit, max_bytes), max_files=1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise InvalidInput(t("the multipart body cannot be read: {reason}", reason=exc.message), field="body") from None
    upload = form.get(FIELD)
    if not isinstance(upload, UploadFile):
        raise InvalidInput(
            t("send the photo or video as the file field {field!r} of the multipart body", field=FIELD), field=FIELD
        )
    return upload


@router.post(
    "/incidents/{incident_id}",
    status_code=201,
    summary="Attach a photo or a short video to a case",
    openapi_extra=_multipart("A photo (JPEG, PNG, WebP, HEIC) or a video (MP4, QuickTime)."),
)
async def upload(
    incident_id: int,
    request: Request,
    response: Response,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.write")),
) -> dict:
    """201 with the attachment: its type as its bytes say, its size and hash, and the position its
    EXIF data (or a video's) gives, in WGS84. The same bytes sent to the same case again answer 200
    with the attachment already recorded. A file that is empty, of another type, or over the limit
    is refused naming the problem; a case outside the user's jurisdiction is not found (404)."""
    max_bytes = settings.cases.attachment_max_bytes

    def visible() -> None:
        with engine.connect() as connection:
            require_visible(connection, incident_id, principal.jurisdiction)

    await run_in_threadpool(visible)
    upload = await _uploaded_file(request, max_bytes)

    def store() -> tuple[dict, bool]:
        kept = attachments.keep(settings.cases.attachments_dir, upload.file, max_bytes)
        with engine.begin() as connection:
            require_visible(connection, incident_id, principal.jurisdiction)
            return attachments.attach(
                connection, incident_id, kept, file_name=upload.filename, uploaded_by=principal.name
            )

    try:
        attachment, created = await run_in_threadpool(store)
    finally:
        await upload.close()
    response.status_code = 201 if created else 200
    response.headers["Location"] = attachment["href"]
    return attachment


@router.get("/incidents/{incident_id}", summary="A case's photos and videos")
def list_attachments(
    incident_id: int, engine: EngineDep, principal: Principal = Depends(allow("incidents.read"))
) -> dict:
    """The case's attachments in the order they came; 404 for a case outside the jurisdiction."""
    with engine.connect() as connection:
        require_visible(connection, incident_id, principal.jurisdiction)
        return {"incident_id": incident_id, "items": attachments.attachments_of(connection, incident_id)}


@router.get(
    "/{attachment_id}",
    summary="The bytes of one photo or video",
    response_class=FileResponse,
    responses={200: {"content": {m: {} for m in ("image/jpeg", "image/png", "video/mp4")}}},
)
def read_attachment(
    attachment_id: int,
    engine: EngineDep,
    settings: SettingsDep,
    principal: Principal = Depends(allow("incidents.read")),
) -> FileResponse:
    """The file, with its type; each read is on the audit log. 404 for an attachment of a case
    outside the user's jurisdiction, as for one that does not exist."""
    with engine.begin() as connection:
        found = attachments.read_for(
            connection,
            attachment_id,
            settings.cases.attachments_dir,
            scope=principal.jurisdiction,
            reader=principal.name,
        )
    return FileResponse(
        found["path"],
        media_type=found["media_type"],
        filename=found["download_name"],
        content_disposition_type="inline",
        # The bytes under an id never change: a phone may keep them.
        headers={"Cache-Control": "private, max-age=604800, immutable", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/position",
    summary="Where a photo or video was taken, read from it without keeping it",
    openapi_extra=_multipart("A photo or video whose EXIF position is wanted."),
)
async def photo_position(
    request: Request, settings: SettingsDep, principal: Principal = Depends(allow("incidents.write"))
) -> dict:
    """For a phone that has no position of its own: ``position`` is the place its camera recorded
    (EXIF GPS of a photo, the ©xyz atom of a video) in WGS84, or null when it recorded none. The
    file is not kept."""
    max_bytes = settings.cases.attachment_max_bytes
    upload = await _uploaded_file(request, max_bytes)
    try:
        described = await run_in_threadpool(attachments.read_position, upload.file, max_bytes)
    finally:
        await upload.close()
    return {"media_type": described.media_type, "kind": described.kind, "position": described.position}
