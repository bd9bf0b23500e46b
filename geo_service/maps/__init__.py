"""Folium maps for notebooks and HTML exports, working with no internet.

Leaflet's script and style are inlined into the page (``offline``), no basemap is drawn unless
asked for, and :func:`to_html` refuses to produce a page that still points at a CDN. Frames are
drawn and coloured by ``frames`` and ``colours``; the service's layers and lookups by ``layers``.

>>> m = frame_map(grids, name="grids", column="kind", tooltip=["code", "name"])
>>> save_html(m, "grids.html")
>>> save_html(layer_map(engine, "grids", place=settings.place), "all_grids.html")
"""

from geo_service.maps.colours import CATEGORY_PALETTE, DEFAULT_COLORMAP, MISSING_COLOUR, Legend
from geo_service.maps.frames import DEFAULT_STYLE, add_frame, base_map, frame_bounds, frame_map
from geo_service.maps.layers import layer_map, lookup_map
from geo_service.maps.offline import OfflineMap, save_html, to_html

__all__ = [
    "CATEGORY_PALETTE",
    "DEFAULT_COLORMAP",
    "DEFAULT_STYLE",
    "MISSING_COLOUR",
    "Legend",
    "OfflineMap",
    "add_frame",
    "base_map",
    "frame_bounds",
    "frame_map",
    "layer_map",
    "lookup_map",
    "save_html",
    "to_html",
]
