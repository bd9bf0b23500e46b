"""The pages people work in, each a thin face over the API: the dispatcher's console at ``/``, the
map at ``/map``, the grid worker's phone page at ``/phone`` and the wall screen at ``/wall``; their
own files under ``/static/``; and the words they speak (``/i18n/{language}.json``).

The pages' files and words are public (a page has to load to show its sign-in); everything a page
then asks for carries the user's token. Every file goes with the Content-Security-Policy of
``map_page.page_headers``: a page talks to nothing but this service.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from geo_service.api.dependencies import EngineDep, SettingsDep
from geo_service.api.map_page import STATIC_DIR, STATIC_TYPES, WEB_DIR, page_headers
from geo_service.errors import NotFound
from geo_service.i18n import t
from geo_service.i18n.words import page_words

router = APIRouter(tags=["pages"])
PAGES = {"/": "console.html", "/map": "map.html", "/phone": "phone.html", "/wall": "wall.html"}


def _page(name: str):
    def serve(settings: SettingsDep) -> HTMLResponse:
        return HTMLResponse((WEB_DIR / name).read_text(encoding="utf-8"), headers=page_headers(settings))

    return serve


for _path, _file in PAGES.items():
    router.add_api_route(_path, _page(_file), methods=["GET"], response_class=HTMLResponse, include_in_schema=False)


@router.get("/static/{name}", include_in_schema=False)
def static_file(settings: SettingsDep, name: str) -> FileResponse:
    """A file of the pages (script, style, icon, the phone page's worker)."""
    path = STATIC_DIR / name
    if "/" in name or path.suffix not in STATIC_TYPES or not path.is_file():
        raise NotFound(t("no such file of the pages: {name}", name=name), field="name")
    headers = page_headers(settings)
    if name.endswith(".sw.js"):  # a service worker may control the whole site
        headers["Service-Worker-Allowed"] = "/"
    return FileResponse(path, media_type=STATIC_TYPES[path.suffix], headers=headers)


@router.get("/i18n/{language}.json", summary="The pages' words in a language (zh or en)")
def words(language: Literal["zh", "en"], engine: EngineDep, settings: SettingsDep) -> JSONResponse:
    """The pages' words, the labels of statuses, actions, risk colours and tiers, and the names of
    categories, sources and roles, in ``language``; with the county's time zone, in which pages
    show every time."""
    with engine.connect() as connection:
        body = page_words(connection, language, settings.place.timezone)
    return JSONResponse(body, headers=page_headers(settings))
