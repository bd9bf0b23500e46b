"""Admin units and grids as GeoDataFrames: geometry unions, codes, names and populations."""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import names as nm
from ._geo import STORAGE_CRS, geoms_to_storage
from .layout import SPECIAL_SITES, Layout, _apportion

COUNTY_CODE = "511421000000"
COUNTY_NAME = "仁寿县"


def sequence_rank(x: np.ndarray, y: np.ndarray, parent_area: float) -> np.ndarray:
    """The 0-based sequence of sibling units, west to east in rows from north to south.

    Rows are bands of height ``h = sqrt(parent_area / n)`` (the siblings' typical size) counted
    down from the northernmost sibling's centroid; within a row, units go by centroid easting.
    ``x``, ``y`` are the siblings' centroids in EPSG:4544 metres.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    n = len(x)
    if n == 0:
        return np.zeros(0, int)
    h = np.sqrt(parent_area / n)
    row = np.floor((y.max() - y) / h).astype(int)
    order = np.lexsort((x, row))
    rank = np.empty(n, int)
    rank[order] = np.arange(n)
    return rank


@dataclass
class Units:
    county: gpd.GeoDataFrame
    towns: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    # metric geometries and lookups for the later steps
    grid_metric: np.ndarray  # level-1 grids, in layout order
    grid_code: np.ndarray  # level-1 code per layout grid index
    village_code: np.ndarray  # per layout village index
    village_name: np.ndarray
    town_code: np.ndarray  # per layout town index
    town_name: np.ndarray
    town_kind: np.ndarray
    grid_pop: np.ndarray


def _unions(atoms, labels, k):
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    bounds = np.searchsorted(lab, np.arange(k + 1))
    out = np.empty(k, dtype=object)
    for i in range(k):
        members = atoms[order[bounds[i] : bounds[i + 1]]]
        out[i] = members[0] if len(members) == 1 else shapely.coverage_union_all(members)
    return out


def _multi(geoms):
    return np.asarray([g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms], dtype=object)


def build_units(rng: np.random.Generator, L: Layout) -> Units:
    n_grids = int(L.atom_grid.max()) + 1
    n_vill = len(L.village_town)
    n_towns = len(L.town_xy)
    atom_village = L.grid_village[L.atom_grid]

    grid_m = _unions(L.atoms, L.atom_grid, n_grids)
    vill_m = _unions(L.atoms, atom_village, n_vill)
    town_m = _unions(L.atoms, L.atom_town, n_towns)
    county_m = shapely.coverage_union_all(L.atoms)
    sub_m = _unions(L.atoms[L.atom_sub >= 0], L.atom_sub[L.atom_sub >= 0], len(L.sub_grid))

    # populations: integers summing exactly, up the hierarchy
    gpop_f = np.bincount(L.atom_grid, weights=L.atom_pop, minlength=n_grids)
    gpop = _apportion(gpop_f, int(round(gpop_f.sum())))
    size = np.where(L.grid_special >= 0, 2.9, np.where(L.grid_urban, 2.72, 3.02))
    size = size + rng.normal(0, 0.09, n_grids)
    ghh = np.maximum(np.rint(gpop / size), 0).astype(int)
    ghh = np.where(gpop > 0, np.maximum(ghh, 1), 0)
    vpop = np.bincount(L.grid_village, weights=gpop, minlength=n_vill).astype(int)
    vhh = np.bincount(L.grid_village, weights=ghh, minlength=n_vill).astype(int)
    tpop = np.bincount(L.village_town, weights=vpop, minlength=n_towns).astype(int)
    thh = np.bincount(L.village_town, weights=vhh, minlength=n_towns).astype(int)

    # towns: kinds, codes, names
    kind = np.array(["town"] * n_towns, dtype=object)
    kind[:4] = "street"
    cand = np.arange(4, n_towns)
    townships = cand[np.argsort(tpop[cand], kind="stable")[:2]]
    kind[townships] = "township"
    tcent = shapely.get_coordinates(shapely.centroid(town_m))
    county_area = county_m.area
    tcode = np.empty(n_towns, dtype=object)
    tname = np.empty(n_towns, dtype=object)
    for i in range(4):
        tcode[i] = f"511421{i + 1:03d}000"
        tname[i] = nm.STREETS[i]
    towns_idx = np.flatnonzero(kind == "town")
    rank = sequence_rank(tcent[towns_idx, 0], tcent[towns_idx, 1], county_area)
    shuffled = [nm.TOWNS[i] for i in rng.permutation(len(nm.TOWNS))]
    for t, r in zip(towns_idx, rank):
        tcode[t] = f"511421{101 + r:03d}000"
        tname[t] = shuffled[r]
    rank = sequence_rank(tcent[townships, 0], tcent[townships, 1], county_area)
    for t, r in zip(townships, rank):
        tcode[t] = f"511421{201 + r:03d}000"
        tname[t] = nm.TOWNSHIPS[r]

    # villages: communities 001-199, villages 200-399, each in sequence order within the town
    vcent = shapely.get_coordinates(shapely.centroid(vill_m))
    vcode = np.empty(n_vill, dtype=object)
    vname = np.empty(n_vill, dtype=object)
    vstems = iter(nm.village_stems(rng, int((~L.village_urban).sum())))
    cstems = iter(nm.community_stems(rng, int(L.village_urban.sum())))
    for t in range(n_towns):
        for urban, base, suffix, stems in ((True, 1, "社区", cstems), (False, 200, "村", vstems)):
            idx = np.flatnonzero((L.village_town == t) & (L.village_urban == urban))
            rank = sequence_rank(vcent[idx, 0], vcent[idx, 1], town_m[t].area)
            for v in idx[np.argsort(rank)]:
                vcode[v] = tcode[t][:9] + f"{base + rank[idx == v][0]:03d}"
                vname[v] = next(stems) + suffix

    # level-1 grids
    gcent = shapely.get_coordinates(shapely.centroid(grid_m))
    gcode = np.empty(n_grids, dtype=object)
    gname = np.empty(n_grids, dtype=object)
    for v in range(n_vill):
        idx = np.flatnonzero(L.grid_village == v)
        rank = sequence_rank(gcent[idx, 0], gcent[idx, 1], vill_m[v].area)
        t = L.village_town[v]
        for g, r in zip(idx, rank):
            gcode[g] = vcode[v] + f"{r + 1:03d}"
            s = L.grid_special[g]
            label = f"{SPECIAL_SITES[s][0]}专属网格" if s >= 0 else f"第{r + 1}网格"
            if s >= 0 and SPECIAL_SITES[s][1] is None:
                label = f"{tname[t][:-1]}{SPECIAL_SITES[s][0]}专属网格"
            gname[g] = f"{tname[t]}{vname[v]}{label}"
    gkind = np.where(L.grid_special >= 0, "special", np.where(L.grid_urban, "urban", "rural"))

    # level-2 grids
    n_sub = len(L.sub_grid)
    scent = shapely.get_coordinates(shapely.centroid(sub_m))
    spop_f = np.bincount(L.atom_sub[L.atom_sub >= 0], weights=L.atom_pop[L.atom_sub >= 0], minlength=n_sub)
    scode = np.empty(n_sub, dtype=object)
    sname = np.empty(n_sub, dtype=object)
    spop = np.zeros(n_sub, int)
    shh = np.zeros(n_sub, int)
    for g in np.unique(L.sub_grid):
        idx = np.flatnonzero(L.sub_grid == g)
        rank = sequence_rank(scent[idx, 0], scent[idx, 1], grid_m[g].area)
        spop[idx] = _apportion(spop_f[idx] + 1e-9, int(gpop[g]))
        shh[idx] = _apportion(spop_f[idx] + 1e-9, int(ghh[g]))
        for s, r in zip(idx, rank):
            scode[s] = gcode[g] + f"{r + 1:03d}"
            sname[s] = f"{gname[g]}第{r + 1}微网格"

    to_s = lambda geoms: _multi(geoms_to_storage(geoms))
    county = gpd.GeoDataFrame(
        {
            "code": [COUNTY_CODE],
            "name": [COUNTY_NAME],
            "kind": ["county"],
            "parent_code": [None],
            "population": [int(tpop.sum())],
            "households": [int(thh.sum())],
        },
        geometry=to_s([county_m]),
        crs=STORAGE_CRS,
    )
    towns = (
        gpd.GeoDataFrame(
            {
                "code": tcode,
                "name": tname,
                "kind": kind,
                "parent_code": COUNTY_CODE,
                "population": tpop,
                "households": thh,
            },
            geometry=to_s(town_m),
            crs=STORAGE_CRS,
        )
        .sort_values("code", kind="stable")
        .reset_index(drop=True)
    )
    villages = (
        gpd.GeoDataFrame(
            {
                "code": vcode,
                "name": vname,
                "kind": np.where(L.village_urban, "community", "village"),
                "urban": L.village_urban.astype(bool),
                "parent_code": tcode[L.village_town],
                "population": vpop,
                "households": vhh,
            },
            geometry=to_s(vill_m),
            crs=STORAGE_CRS,
        )
        .sort_values("code", kind="stable")
        .reset_index(drop=True)
    )
    g1 = pd.DataFrame(
        {
            "code": gcode,
            "name": gname,
            "level": 1,
            "parent_code": None,
            "village_code": vcode[L.grid_village],
            "kind": gkind,
            "population": gpop,
            "households": ghh,
        }
    )
    g2 = pd.DataFrame(
        {
            "code": scode,
            "name": sname,
            "level": 2,
            "parent_code": gcode[L.sub_grid],
            "village_code": vcode[L.grid_village[L.sub_grid]],
            "kind": gkind[L.sub_grid],
            "population": spop,
            "households": shh,
        }
    )
    grids = gpd.GeoDataFrame(
        pd.concat([g1, g2], ignore_index=True),
        geometry=np.concatenate([to_s(grid_m), to_s(sub_m)]),
        crs=STORAGE_CRS,
    )
    grids["level"] = grids["level"].astype("int64")
    grids = grids.sort_values(["level", "code"], kind="stable").reset_index(drop=True)
    for frame in (county, towns, villages, grids):
        frame["population"] = frame["population"].astype("int64")
        frame["households"] = frame["households"].astype("int64")
        frame["parent_code"] = frame["parent_code"].astype(object).where(frame["parent_code"].notna(), None)
    return Units(
        county=county,
        towns=towns,
        villages=villages,
        grids=grids,
        grid_metric=grid_m,
        grid_code=gcode,
        village_code=vcode,
        village_name=vname,
        town_code=tcode,
        town_name=tname,
        town_kind=kind,
        grid_pop=gpop,
    )
