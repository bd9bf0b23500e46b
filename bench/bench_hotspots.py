"""Hot spots over the demo year, at grid and 200 m hexagon level: counted in PostGIS then esda
(geo_service.analysis.hotspots) against the naive way, every incident pulled into geopandas,
joined to the units in Python, counted, then the same weights and esda. Same run, medians, ratio.

    .venv/bin/python bench/bench_hotspots.py [--runs 5] [--scale demo|city|both] [--database-url URL]

Both ways must find the same counts (checked) and so the same hot spots. At the city scale both
run city-wide and for one county inside the city (``--county``); the naive way is skipped where
one call of it would exceed ``--budget`` seconds for the runs asked.
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import numpy as np
from scale import add_scale_argument, analysed_incidents, analysed_places
from sqlalchemy import text

from geo_service.analysis import hotspots
from geo_service.analysis.hotspots import gi_star
from geo_service.analysis.units import units_for
from geo_service.analysis.weights import unit_weights, with_self
from geo_service.db.engine import dispose_engines


def ours(engine, where, unit, size, place):
    return hotspots(engine, where, unit, size, place=place, permutations=999)


def naive(engine, where, unit, size, place):
    with engine.connect() as connection:
        frame = units_for(connection, where, unit, size, place=place)
        points = gpd.read_postgis(
            text(f"SELECT i.geom FROM incidents i WHERE {where.sql('i')}"),
            connection,
            geom_col="geom",
            params=where.params(),
        )
    joined = gpd.sjoin(points.set_crs(4490, allow_override=True), frame[["code", "geom"]], predicate="within")
    # a point on a shared edge joins two units: keep one, as assignment does
    counted = joined[~joined.index.duplicated()]["code"].value_counts()
    frame["count"] = counted.reindex(frame["code"]).fillna(0).astype(int).to_numpy()
    graph, _ = unit_weights(frame, unit, size)
    result = gi_star(frame["count"].to_numpy(float), with_self(graph), permutations=999)
    for column in result.columns:
        frame[column] = result[column].to_numpy()
    return frame


def timed(function, *args, runs):
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = function(*args)
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def run(url: str | None, label: str, scope_code: str | None, args) -> None:
    engine, place, where, n = analysed_incidents(url, scope_code, args.start, args.end)
    print(
        f"\n{label}: {n:,} incidents, {args.start} to {args.end}; medians of {args.runs} runs (after one warm-up each)"
    )
    for unit, size in (("grid", None), ("hex", 200.0)):
        started = time.perf_counter()
        ours(engine, where, unit, size, place)  # warm-up: caches, imports, connections
        once = time.perf_counter() - started
        t_ours, a = timed(ours, engine, where, unit, size, place, runs=args.runs)
        label_unit = "grids" if unit == "grid" else f"{size:g} m hexagons"
        started = time.perf_counter()
        b = naive(engine, where, unit, size, place)  # warm-up, and is it within the budget?
        naive_once = time.perf_counter() - started
        if naive_once * args.runs <= args.budget:
            t_naive, b = timed(naive, engine, where, unit, size, place, runs=args.runs)
            naive_text, ratio = f"{t_naive:6.2f} s", f"{t_naive / t_ours:4.1f}x"
        else:
            naive_text, ratio = f"~{naive_once:5.1f} s (once)", f"~{naive_once / t_ours:4.1f}x"
        same_counts = (a["count"].to_numpy() == b["count"].to_numpy()).mean()
        same_class = (a["class"].to_numpy() == b["class"].to_numpy()).mean()
        print(
            f"{label_unit:>16}: {len(a):>7,} units | PostGIS then esda {t_ours:6.2f} s (first {once:5.2f} s) | "
            f"all points to geopandas {naive_text} | ratio {ratio} | same counts {same_counts:.2%}, same classes "
            f"{same_class:.2%}",
            flush=True,
        )
        assert np.isclose(same_counts, 1.0, atol=1e-4), "the two ways must count alike"
    dispose_engines()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="a database to use instead of --scale's")
    parser.add_argument("--start", default="2025-11-17")
    parser.add_argument("--end", default="2026-11-16")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds the naive way may take in all")
    parser.add_argument("--county", default="511421000000", help="the county analysed alone at the city scale")
    add_scale_argument(parser)
    args = parser.parse_args()
    if args.database_url:
        run(args.database_url, "given database", None, args)
        return
    for url, label, scope_code in analysed_places(args.scale, args.county):
        run(url, label, scope_code, args)


if __name__ == "__main__":
    main()
