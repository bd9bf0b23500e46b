"""Layers that disagree by a datum: GCJ-02 or BD-09 data labelled WGS84 (or CGCS2000).

GCJ-02 moves a county's data by a nearly constant 100-700 m (BD-09 by about 1 km), so nothing in
the coordinates themselves tells; the other layers do. Each layer is compared with the layers it
should nest in (grids in villages in towns in the outline), three ways: as declared, as if its
coordinates were GCJ-02, and as if BD-09. The misfit of a version is the area of its shapes lying
outside their best-fitting parent divided by the length of border they should reproduce: roughly
the mean offset in metres. The comparison runs both ways (the coarser layer may be the wrong
one). Point layers are compared with the county's footprint: only points near its border tell.

When every layer is in the same wrong datum there is no contradiction to see, and none is
reported: that case is caught only by a declaration (``--crs``) or by a person looking at a map.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import Transformer

from geo_service.coordinates.datum import convert, convert_geometry
from geo_service.county.report import ImportReport
from geo_service.i18n import t

LEVELS = {"county": 0, "towns": 1, "villages": 2, "grids": 3}
VERSIONS = ("wgs84", "gcj02", "bd09")  # cgcs2000 is within a metre of wgs84: one version
LABELS = {"wgs84": "WGS84/CGCS2000", "gcj02": "GCJ-02", "bd09": "BD-09"}
MAX_FIT_M = 60.0  # a version fits when its misfit is at most this
MIN_GAIN = 3.0  # ... and the declared version's is this many times worse
POINT_SHARE = 0.9  # points: the better version keeps at least this share inside the county


def _fold(datum: str) -> str:
    return "wgs84" if datum == "cgcs2000" else datum


def _version(geoms: np.ndarray, declared: str, version: str) -> np.ndarray:
    """The shapes had their raw coordinates been in ``version`` rather than ``declared``."""
    if version == _fold(declared):
        return geoms
    raw = convert_geometry(geoms, "cgcs2000", declared)
    return convert_geometry(raw, version, "cgcs2000")


def _metric(lon: float) -> Transformer:
    """CGCS2000 3-degree Gauss-Krüger zone with its central meridian nearest ``lon`` (EPSG:4534-4554)."""
    zone = min(max(int(round((lon - 75) / 3)), 0), 20)
    return Transformer.from_crs("EPSG:4490", f"EPSG:{4534 + zone}", always_xy=True)


def _project(geoms: np.ndarray, transformer: Transformer) -> np.ndarray:
    def apply(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, apply)


def misfit(children: np.ndarray, parents: np.ndarray, footprint, borders) -> float:
    """Metres: area of ``children`` outside their best parent per metre of border they should reproduce.

    All in one metric projection: ``footprint`` is the union of the children, ``borders`` the
    union of the parents' boundaries.
    """
    tree = shapely.STRtree(parents)
    ci, pi = tree.query(children, predicate="intersects")
    best = np.zeros(len(children))
    if len(ci):
        shapely.prepare(parents)
        inside = shapely.contains_properly(parents[pi], children[ci])  # most children: no overlay needed
        areas = np.where(inside, shapely.area(children[ci]), 0.0)
        cut = ~inside
        areas[cut] = shapely.area(shapely.intersection(children[ci[cut]], parents[pi[cut]]))
        np.maximum.at(best, ci, areas)
    outside = float(np.clip(shapely.area(children) - best, 0, None).sum())
    length = max(shapely.intersection(borders, footprint.buffer(-1.0)).length, footprint.length, 1.0)
    return outside / length


class _Layer:
    """A polygon layer in each datum version, lon/lat and metric, with its outline and borders;
    the unions are made once, as declared, and moved with the version (a datum moves all alike)."""

    def __init__(self, table, shapes: np.ndarray, transformer: Transformer) -> None:
        self.table, self.shapes, self.transformer = table, shapes, transformer
        self.declared = _fold(table.report.datum)
        self._unions = np.asarray([shapely.union_all(shapes), shapely.union_all(shapely.boundary(shapes))])
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def version(self, datum: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lon/lat shapes, metric shapes, metric [footprint, borders]) had the layer been in ``datum``."""
        if datum not in self._cache:
            lonlat = _version(self.shapes, self.table.report.datum, datum)
            unions = _version(self._unions, self.table.report.datum, datum)
            metric = shapely.make_valid(_project(lonlat, self.transformer))  # a vertex moved can cross an edge
            self._cache[datum] = lonlat, metric, shapely.make_valid(_project(unions, self.transformer))
        return self._cache[datum]

    def centre(self, datum: str) -> shapely.Point:
        return shapely.centroid(_version(self._unions[:1], self.table.report.datum, datum)[0])


def _score(fine: _Layer, fine_datum: str, coarse: _Layer, coarse_datum: str) -> float:
    _, children, (footprint, _) = fine.version(fine_datum)
    _, parents, (_, borders) = coarse.version(coarse_datum)
    return misfit(children, parents, footprint, borders)


def _verdict(scores: dict[str, float], declared: str) -> str | None:
    best = min(scores, key=scores.__getitem__)
    if best != declared and scores[best] <= MAX_FIT_M and scores[declared] >= MIN_GAIN * max(scores[best], 5.0):
        return best
    return None


def _shift_m(layer: _Layer, found: str) -> float:
    """Metres between the centres of the layer as declared and in ``found``."""
    a, b = layer.centre(layer.declared), layer.centre(found)
    dx = (b.x - a.x) * 111_320 * np.cos(np.radians(a.y))
    return float(np.hypot(dx, (b.y - a.y) * 110_574))


def detect_offsets(tables: list, report: ImportReport) -> None:
    """Add a file-level error to each layer that fits the others clearly better in another datum.

    Parameters
    ----------
    tables : list of SourceTable
        The tables ``read_sources`` returned; only those with one datum (not several from a datum
        column) and no file-level error are compared. A table found off gets an error, so
        ``table.report.fatal()`` must be checked again after this call.
    report : ImportReport
        The import's report (the errors go to each table's own ``FileReport``).

    Notes
    -----
    When every layer shares one wrong datum there is no contradiction to see, and nothing is
    reported. An offset no datum explains (a wrong Gauss-Krüger zone, Xian80 read as CGCS2000)
    is reported as a warning when neither layer of the pair is found off by a datum.
    """
    usable = [
        t for t in tables if not t.report.fatal() and (t.report.datum or "") in ("wgs84", "cgcs2000", "gcj02", "bd09")
    ]
    layers = [t for t in usable if t.kind in LEVELS]
    shapes = {id(t): _valid(t.frame["geometry"]) for t in layers}
    layers = [t for t in layers if len(shapes[id(t)])]
    flagged: dict[int, str] = {}
    unexplained: list[tuple[object, object, float]] = []
    if layers:
        transformer = _metric(shapely.centroid(shapely.union_all(shapes[id(layers[0])])).x)
        built = {id(t): _Layer(t, shapes[id(t)], transformer) for t in layers}
        for fine in (built[id(t)] for t in layers):
            for coarse in (built[id(t)] for t in layers):
                if LEVELS[coarse.table.kind] >= LEVELS[fine.table.kind]:
                    continue
                try:
                    as_fine = {d: _score(fine, d, coarse, coarse.declared) for d in VERSIONS}
                    as_coarse = {d: _score(fine, fine.declared, coarse, d) for d in VERSIONS}
                except shapely.errors.GEOSException:  # shapes too broken to overlay: their checks report them
                    continue
                for layer, scores, other in ((fine, as_fine, coarse), (coarse, as_coarse, fine)):
                    found = _verdict(scores, layer.declared)
                    if found and id(layer.table) not in flagged:
                        flagged[id(layer.table)] = found
                        _flag(layer.table, _shift_m(layer, found), found, other.table.path)
                if min(as_fine, key=as_fine.__getitem__) == fine.declared and as_fine[fine.declared] > MAX_FIT_M:
                    unexplained.append((fine.table, coarse.table, as_fine[fine.declared]))
        for fine, coarse, metres in unexplained:
            if id(fine) not in flagged and id(coarse) not in flagged:
                fine.report.warn(
                    None,
                    None,
                    t(
                        "shapes sit about {metres} m off {other}, more than borders drawn apart usually differ, "
                        "and no datum explains it: check the coordinate system (a Gauss-Krüger zone?)",
                        metres=_round(metres),
                        other=coarse.path,
                    ),
                )
    if layers:
        outline = shapely.union_all(shapes[id(min(layers, key=lambda t: LEVELS[t.kind]))])
        for table in (t for t in usable if t.kind in ("cameras", "incidents")):
            _check_points(table, outline, min(layers, key=lambda t: LEVELS[t.kind]).path)


def _valid(geoms) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    arr = arr[~shapely.is_missing(arr)]
    arr = arr[~shapely.is_empty(arr)]
    return shapely.make_valid(arr[shapely.area(arr) > 0]) if len(arr) else arr


def _round(metres: float) -> int:
    return int(round(metres, -1)) if metres >= 100 else int(round(metres))


def _flag(table, shift: float, found: str, other: str) -> None:
    table.report.error(
        None,
        None,
        t(
            "shapes sit about {metres} m off the other layers ({other}): probably {found}, "
            "not {declared}; declare it with --crs {path}={code}",
            metres=_round(shift),
            other=other,
            found=LABELS[found],
            declared=table.report.datum,
            path=table.path,
            code=found,
        ),
    )


def _check_points(table, outline, outline_path: str) -> None:
    frame = table.frame
    ok = np.isfinite(frame["lon"].to_numpy(dtype=float)) & np.isfinite(frame["lat"].to_numpy(dtype=float))
    if ok.sum() < 10:
        return
    x, y = frame["lon"].to_numpy(dtype=float)[ok], frame["lat"].to_numpy(dtype=float)[ok]
    declared = _fold(table.report.datum)
    shapely.prepare(outline)
    versions, outside = {}, {}
    for datum in VERSIONS:
        if datum == declared:
            vx, vy = x, y
        else:
            rx, ry = convert(x, y, "cgcs2000", table.report.datum)
            vx, vy = convert(rx, ry, datum, "cgcs2000")
        versions[datum] = (vx, vy)
        outside[datum] = int((~shapely.contains_xy(outline, vx, vy)).sum())
    best = min(outside, key=outside.__getitem__)
    n = len(x)
    gained = outside[declared] - outside[best]
    if (
        best != declared
        and 1 - outside[best] / n >= POINT_SHARE
        and gained >= max(5, 0.002 * n)
        and (outside[best] <= 0.5 * outside[declared])
    ):
        (ax, ay), (bx, by) = versions[declared], versions[best]
        dx = (bx - ax).mean() * 111_320 * np.cos(np.radians(ay.mean()))
        shift = float(np.hypot(dx, (by - ay).mean() * 110_574))
        table.report.error(
            None,
            None,
            t(
                "points sit about {metres} m off the other layers ({other}: {outside} of {n} fall outside it, "
                "{outside_found} as {found}): probably {found}, not {declared}; declare it with --crs {path}={code}",
                metres=_round(shift),
                other=outline_path,
                outside=outside[declared],
                n=n,
                outside_found=outside[best],
                found=LABELS[best],
                declared=table.report.datum,
                path=table.path,
                code=best,
            ),
        )
