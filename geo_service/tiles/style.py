"""TileJSON for each layer and one MapLibre style document for the whole map.

Both pin the boundary versions they were made for (one per county) in the tiles' addresses, so
a client that fetches them again after any county publishes a version asks for new tiles. No glyphs or sprites are
needed: the declared styles draw fills, lines and circles only, and the page shows names and
codes in its own panel (a county intranet has no font server, and CJK glyph ranges are large).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from geo_service.tiles.layers import PROPERTY_TYPES, Layer

_DRAW_ORDER = {"fill": 0, "fill-extrusion": 1, "heatmap": 2, "line": 3, "circle": 4}


def tiles_url(
    base_url: str, layer: Layer, versions: list[int], datum: str, filters: dict[str, Any], name: str | None = None
) -> str:
    """The tile address template for ``layer`` (or the tiles ``name``d so, holding it): versions
    pinned for boundary layers."""
    query: dict[str, Any] = {}
    if layer.boundaries:
        query["version"] = ",".join(str(v) for v in versions)
    if datum != "wgs84":
        query["datum"] = datum
    for parameter in layer.parameters:
        value = filters.get(parameter)
        if value:
            query[parameter] = ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    suffix = f"?{urlencode(query, safe=',:')}" if query else ""
    return f"{base_url.rstrip('/')}/tiles/{name or layer.name}/{{z}}/{{x}}/{{y}}.mvt{suffix}"


def _vector_layer(layer: Layer) -> dict:
    return {
        "id": layer.name,
        "description": layer.description,
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "fields": {name: PROPERTY_TYPES[kind] for name, kind in layer.properties.items()},
    }


def combined_tilejson(
    base_url: str, name: str, layers: list[Layer], versions: list[int], bounds: list[float] | None, datum: str
) -> dict:
    """TileJSON 3.0.0 of one tile source holding several boundary layers (``name``: its address)."""
    doc = {
        "tilejson": "3.0.0",
        "name": "Towns, villages and grids",
        "description": "Every boundary layer in one vector tile: " + ", ".join(layer.name for layer in layers),
        "scheme": "xyz",
        "tiles": [tiles_url(base_url, layers[0], versions, datum, {}, name=name)],
        "minzoom": min(layer.minzoom for layer in layers),
        "maxzoom": max(layer.maxzoom for layer in layers),
        "vector_layers": [_vector_layer(layer) for layer in layers],
        "boundary_versions": list(versions),
    }
    if bounds:
        doc["bounds"] = bounds
        doc["center"] = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(doc["minzoom"], 9)]
    return doc


def tilejson(
    base_url: str,
    layer: Layer,
    versions: list[int],
    bounds: list[float] | None,
    datum: str = "wgs84",
    filters: dict[str, Any] | None = None,
) -> dict:
    """TileJSON 3.0.0 for one layer."""
    doc = {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.description,
        "scheme": "xyz",
        "tiles": [tiles_url(base_url, layer, versions, datum, filters or {})],
        "minzoom": layer.minzoom,
        "maxzoom": layer.maxzoom,
        "vector_layers": [_vector_layer(layer)],
        "geometry_type": layer.geometry_type,
        "parameters": {
            p.name: {
                "type": p.type,
                "description": p.description,
                **({"choices": list(p.choices)} if p.choices else {}),
            }
            for p in layer.parameters.values()
        },
        "boundary_versions": list(versions) if layer.boundaries else None,
    }
    if bounds:
        doc["bounds"] = bounds
        doc["center"] = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, max(layer.minzoom, 9)]
    return doc


def style_document(
    base_url: str,
    layers: dict[str, Layer],
    versions: list[int],
    bounds: list[float] | None,
    datum: str = "wgs84",
    filters: dict[str, Any] | None = None,
    basemap_url: str | None = None,
    basemap_attribution: str = "",
    combined: str | None = None,
    language: str = "zh",
) -> dict:
    """A MapLibre style (version 8) drawing every declared layer: fills, then lines, then points.
    With ``combined`` (the name of the tiles holding every boundary layer), the boundary layers
    are drawn from that one source, as clients that read one vector-tile source need (QGIS).
    Each layer's ``geo_service:title`` is its title in ``language``."""
    sources: dict[str, Any] = {}
    style_layers: list[dict] = [{"id": "background", "type": "background", "paint": {"background-color": "#f4f3ee"}}]
    if basemap_url:
        sources["basemap"] = {
            "type": "raster",
            "tiles": [basemap_url],
            "tileSize": 256,
            "attribution": basemap_attribution,
        }
        style_layers.append({"id": "basemap", "type": "raster", "source": "basemap"})
    drawn = []
    together = [layer for layer in layers.values() if layer.boundaries] if combined else []
    if together:
        sources[combined] = {
            "type": "vector",
            "tiles": [tiles_url(base_url, together[0], versions, datum, {}, name=combined)],
            "minzoom": min(layer.minzoom for layer in together),
            "maxzoom": max(layer.maxzoom for layer in together),
            **({"bounds": bounds} if bounds else {}),
        }
    for layer in layers.values():
        source_name = combined if layer in together else layer.name
        if layer not in together:
            sources[layer.name] = {
                "type": "vector",
                "tiles": [tiles_url(base_url, layer, versions, datum, filters or {})],
                "minzoom": layer.minzoom,
                "maxzoom": layer.maxzoom,
                **({"bounds": bounds} if bounds else {}),
            }
        for order, spec in enumerate(layer.style_layers):
            entry = {k: v for k, v in spec.items() if k in {"id", "type", "paint", "layout", "filter"}}
            entry.update(
                {
                    "source": source_name,
                    "source-layer": layer.name,
                    "minzoom": spec.get("minzoom", layer.minzoom),
                    "maxzoom": spec.get("maxzoom", layer.maxzoom + 1),
                    "metadata": {
                        "geo_service:layer": layer.name,
                        "geo_service:title": layer.title_in(language),
                        "geo_service:tooltip": list(layer.tooltip),
                    },
                }
            )
            drawn.append((_DRAW_ORDER.get(spec["type"], 5), layer.minzoom, order, entry))
    style_layers += [entry for *_, entry in sorted(drawn, key=lambda item: item[:3])]
    style = {
        "version": 8,
        "name": "geo_service",
        "metadata": {"geo_service:boundary_versions": list(versions), "geo_service:datum": datum},
        "sources": sources,
        "layers": style_layers,
    }
    if bounds:
        style["center"] = [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2]
        style["zoom"] = 9
    return style
