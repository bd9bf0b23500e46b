"""The in-memory assignment: the raster shortcut and the exact path give the same answers."""

from __future__ import annotations

import numpy as np
import shapely
from sqlalchemy import text

from geo_service.lookup.grid_index import NEAR_BOUNDARY, GridIndex

from . import tiny_county as tiny


def _demo_index(engine) -> GridIndex:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT code, level, ST_AsBinary(geom) FROM grids")).all()
    return GridIndex([r[0] for r in rows], [r[1] for r in rows], shapely.from_wkb([bytes(r[2]) for r in rows]))


def _hard_points(geometries, rng, n=200_000):
    """Random points over the bounds, every vertex, and points on edges."""
    minx, miny, maxx, maxy = shapely.total_bounds(geometries)
    x, y = rng.uniform(minx - 0.01, maxx + 0.01, n), rng.uniform(miny - 0.01, maxy + 0.01, n)
    vertices = shapely.get_coordinates(geometries)
    midpoints = (vertices[:-1] + vertices[1:]) / 2
    return np.concatenate([x, vertices[:, 0], midpoints[:, 0]]), np.concatenate([y, vertices[:, 1], midpoints[:, 1]])


def test_raster_and_exact_agree_on_the_demo_grids(engine):
    index = _demo_index(engine)
    x, y = _hard_points(index.geometries, np.random.default_rng(11))
    fast = index.assign(x, y, use_raster=True)
    exact = index.assign(x, y, use_raster=False)
    assert np.array_equal(fast, exact)
    assert (fast >= 0).mean() > 0.5  # the sample really lands in grids
    near = (index.raster.cells == NEAR_BOUNDARY).mean()
    assert 0 < near < 0.25, near  # the shortcut answers most of the area


def test_raster_and_exact_agree_on_holes_parts_and_sub_grids():
    grids = tiny.V1_GRIDS
    index = GridIndex(list(grids), [level for level, _ in grids.values()], [g for _, g in grids.values()])
    x, y = _hard_points(index.geometries, np.random.default_rng(5), n=50_000)
    assert np.array_equal(index.assign(x, y, use_raster=True), index.assign(x, y, use_raster=False))
    # The island fills the hole: its interior is the island's, not the holed grid's.
    found = index.assign(np.array([104.075, 104.18]), np.array([29.975, 29.96]), use_raster=True)
    assert list(index.codes[found]) == [tiny.WEST + "005", tiny.EAST + "001"]


def test_points_outside_the_raster_have_no_grid():
    index = GridIndex(["511421100201001"], [1], [shapely.box(104.0, 30.0, 104.1, 30.1)])
    found = index.assign(
        np.array([103.0, 104.05, 180.0, -180.0]), np.array([30.05, 30.05, 90.0, -90.0]), use_raster=True
    )
    assert list(found) == [-1, 0, -1, -1]
