"""The analyses over a year of incidents, through the library, each against the way it was
computed before (kept here, runnable): hot spots by grid and by 200 m hexagon (999 permutations),
emerging hot spots over 52 weekly steps, and the kernel density surface. Same run, medians of
``--runs`` (after one warm-up), the ratio, and the peak memory of one call (tracemalloc).

    .venv/bin/python bench/bench_analyses.py [--runs 5] [--scale demo|city|both] [--only hex,emerging]

At the city scale each analysis runs twice: city-wide, and for one county inside the city (a
county leader's jurisdiction), to show how each scales. The earlier ways are skipped where they
would take more than ``--budget`` seconds for one call (their time is then printed as '-').

Before: counts in PostGIS then esda's ``G_Local`` (without numba, its conditional permutations
loop over the units in Python), hexagon weights as a distance band, one ``G_Local`` per weekly
step. Now: ``geo_service.analysis.gi`` (esda's numbers and seeded draws, as arrays), hexagon
weights from their indexes, one sparse product for all steps.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import tracemalloc
import warnings

import esda
import numpy as np
from libpysal.graph import Graph
from scale import add_scale_argument, analysed_incidents, analysed_places
from sqlalchemy import text

from geo_service.analysis import emerging_hotspots, hotspots, kernel_density
from geo_service.analysis.counts import counts
from geo_service.analysis.emerging import space_time_cube
from geo_service.analysis.stats import mann_kendall
from geo_service.analysis.weights import with_self
from geo_service.db.engine import dispose_engines
from geo_service.startup_objects import freeze_startup_objects

ANALYSES = ("grid", "hex", "emerging", "kde")


def _esda(y, graph, permutations):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return esda.G_Local(y, graph, transform="B", star=True, permutations=permutations, seed=12345, n_jobs=1)


def _old_weights(frame, unit, size):
    if unit != "hex":  # built every time, as before (the library now keeps them)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Graph.build_contiguity(frame.geometry.reset_index(drop=True), rook=False)
    i, j = frame["i"].to_numpy(), frame["j"].to_numpy()
    xy = np.column_stack([1.5 * size * i, math.sqrt(3) * size * (j + (i & 1) / 2)])
    return Graph.build_distance_band(xy, threshold=math.sqrt(3) * size * 1.01, binary=True)


def before_hotspots(engine, where, unit, size, place):
    """Counts as the library counts them, then the weights and esda as they were."""
    frame = counts(engine, where, unit, size, place=place)
    result = _esda(frame["count"].to_numpy(float), with_self(_old_weights(frame, unit, size)), 999)
    return result.Zs


def before_emerging(engine, where, unit, size, place):
    """The same cube, then weights built anew and one G_Local per step, and the trends."""
    cube = space_time_cube(engine, where, unit, size, 7, place=place)
    graph = with_self(_old_weights(cube.frame, unit, size))
    z = np.column_stack(
        [
            _esda(cube.counts[:, k], graph, 0).Zs if np.ptp(cube.counts[:, k]) > 0 else np.zeros(len(cube.frame))
            for k in range(cube.counts.shape[1])
        ]
    )
    return mann_kendall(z)


def before_kde(engine, where, place):
    """The obvious alternative: every incident to Python, projected, binned and smoothed there."""
    from pyproj import Transformer
    from scipy import ndimage

    with engine.connect() as connection:
        xy = np.array(
            connection.execute(
                text(f"SELECT ST_X(i.geom), ST_Y(i.geom) FROM incidents i WHERE {where.sql('i')}"), where.params()
            ).all(),
            float,
        ).reshape(-1, 2)
    x, y = Transformer.from_crs(4490, 4544, always_xy=True).transform(xy[:, 0], xy[:, 1])
    raster, _, _ = np.histogram2d(
        y, x, bins=(np.arange(y.min(), y.max() + 250, 250), np.arange(x.min(), x.max() + 250, 250))
    )
    return ndimage.gaussian_filter(raster, sigma=1500 / 250, mode="constant", truncate=4.0)


def _units(result) -> int:
    """How many units (or cells) an answer has."""
    for attribute in ("frame", "cells"):
        if hasattr(result, attribute):
            return len(getattr(result, attribute))
    return len(result)


def timed(function, runs):
    function()  # warm-up: caches, imports, connections
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_mb(function) -> float:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


def cases(engine, where, place):
    """(name, now, before) for each analysis."""
    return {
        "grid": (
            "hot spots, grids, 999 permutations",
            lambda: hotspots(engine, where, "grid", place=place, permutations=999),
            lambda: before_hotspots(engine, where, "grid", None, place),
        ),
        "hex": (
            "hot spots, 200 m hexagons, 999 permutations",
            lambda: hotspots(engine, where, "hex", 200.0, place=place, permutations=999),
            lambda: before_hotspots(engine, where, "hex", 200.0, place),
        ),
        "emerging": (
            "emerging hot spots, grids, 52 weekly steps",
            lambda: emerging_hotspots(engine, where, "grid", place=place, step_days=7),
            lambda: before_emerging(engine, where, "grid", None, place),
        ),
        "kde": (
            "kernel density, 250 m cells, Scott's bandwidth",
            lambda: kernel_density(engine, where, place=place),
            lambda: before_kde(engine, where, place),
        ),
    }


def run(url: str, label: str, scope_code: str | None, args) -> None:
    engine, place, where, n = analysed_incidents(url, scope_code, args.start, args.end)
    print(f"\n{label}: {n:,} incidents, {args.start} to {args.end}; medians of {args.runs} runs")
    for key, (name, now, before) in cases(engine, where, place).items():
        if key not in args.only:
            continue
        t_now = timed(now, args.runs)
        units = _units(now())
        if units > args.max_before_units and key != "kde":
            t_before, before_text = None, f"skipped ({units:,} units; esda's loop is quadratic)"
        else:
            started = time.perf_counter()
            before()  # once, to see whether it fits the budget
            once = time.perf_counter() - started
            t_before = timed(before, max(1, args.runs // 2)) if once * args.runs < args.budget else None
            before_text = f"{t_before:6.2f} s" if t_before else f"~{once:5.1f} s (once)"
        ratio = f"{t_before / t_now:5.1f}x" if t_before else "    -"
        before_peak = f"{peak_mb(before):6.0f} MB before" if t_before else "-"
        print(
            f"  {name:<46} {units:>7,} units | now {t_now:6.2f} s | before {before_text} | ratio {ratio} | "
            f"peak {peak_mb(now):6.0f} MB now, {before_peak}",
            flush=True,
        )
    dispose_engines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--start", default="2025-11-17")
    parser.add_argument("--end", default="2026-11-16")
    parser.add_argument("--only", default=",".join(ANALYSES), help="comma-separated: " + ", ".join(ANALYSES))
    parser.add_argument("--budget", type=float, default=60.0, help="seconds the earlier way may take per analysis")
    parser.add_argument(
        "--max-before-units", type=int, default=40_000, help="the earlier way only up to this many units"
    )
    parser.add_argument("--county", default="511421000000", help="the county analysed alone at the city scale")
    add_scale_argument(parser)
    args = parser.parse_args()
    args.only = [a.strip() for a in args.only.split(",") if a.strip()]
    # As the service's analysis processes run them: what start-up made is frozen out of the
    # garbage collector's walks (geo_service.startup_objects), for the earlier ways as for now.
    freeze_startup_objects()
    for url, label, scope_code in analysed_places(args.scale, args.county):
        run(url, label, scope_code, args)


if __name__ == "__main__":
    main()
