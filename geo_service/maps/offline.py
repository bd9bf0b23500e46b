"""Folium maps that work with no internet: Leaflet's script and style inlined into the page (its
images as data URIs), and a page that still points at a CDN refused.

Colours, legends and point markers use nothing beyond Leaflet itself (no jQuery, Bootstrap, d3 or
icon fonts), which is what keeps the page self-contained.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
from branca.element import Element

from geo_service.coordinates.datum import parse_datum
from geo_service.web.vendor import asset_path

_EXTERNAL_ASSET = re.compile(
    r"""<(?:script[^>]*\ssrc|link[^>]*\shref)\s*=\s*["']((?:https?:)?//[^"']+)""", re.IGNORECASE
)


@lru_cache(maxsize=1)
def _leaflet_js() -> str:
    return asset_path("leaflet", "dist/leaflet.js").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _leaflet_css() -> str:
    css = asset_path("leaflet", "dist/leaflet.css").read_text(encoding="utf-8")

    def data_uri(match: re.Match) -> str:
        image = asset_path("leaflet", f"dist/{match.group(1)}").read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(image).decode()})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose Leaflet is inlined and which links to no CDN.

    ``datum`` is the datum the map is drawn in: ``wgs84`` (default, as Leaflet expects) or
    ``gcj02``/``bd09`` to line up with a Chinese consumer basemap; :func:`add_frame` shifts
    frames to it.
    """

    # folium's defaults (Leaflet, jQuery, Bootstrap, awesome-markers, fonts) come from CDNs.
    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def __init__(self, *args: Any, datum: str = "wgs84", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.datum = parse_datum(datum)

    def render(self, **kwargs: Any) -> None:
        header = self.get_root().header
        # Named like folium's own links, so a second map in one figure does not add them twice.
        header.add_child(Element(f"<style>{_leaflet_css()}</style>"), name="leaflet_css")
        header.add_child(Element(f"<script>{_leaflet_js()}</script>"), name="leaflet")
        # Leaflet finds its marker images through a stylesheet URL; inline CSS has none.
        header.add_child(
            Element("<script>L.Icon.Default.prototype.options.imagePath = '';</script>"), name="leaflet_image_path"
        )
        super().render(**kwargs)


def to_html(m: folium.Map) -> str:
    """The map as one self-contained HTML page.

    Raises
    ------
    RuntimeError
        Something on the map (a plugin added by hand, say) links a script or stylesheet from
        the internet, which a county intranet cannot load.
    """
    page = m.get_root().render()
    external = _EXTERNAL_ASSET.findall(page)
    if external:
        raise RuntimeError(
            "the map links assets from the internet, which will not load offline: " + ", ".join(external)
        )
    return page


def save_html(m: folium.Map, path: str | Path) -> Path:
    """Write :func:`to_html` to ``path`` (folders are created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_html(m), encoding="utf-8")
    return path
