"""Benchmark GCJ-02 -> WGS84: geo_service.coordinates.datum (vectorised) vs prcoords (python loop).

Run: ``python bench/bench_datum.py`` (needs the ``test`` extra for prcoords).
Points are drawn uniformly inside mainland China, so every point takes the
expensive path (point-in-polygon test + iterative inverse).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

from geo_service.coordinates import datum

N_OURS = 1_000_000
N_THEIRS = 20_000
RUNS_OURS = 5
RUNS_THEIRS = 3


def _sample_mainland(n: int, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    """n WGS84 points uniformly inside the mainland outline, as GCJ-02 coordinates."""
    rng = np.random.default_rng(seed)
    xs, ys, have = [], [], 0
    while have < n:
        x = rng.uniform(73.5, 135.1, 2 * n)
        y = rng.uniform(18.0, 53.6, 2 * n)
        keep = datum.in_china(x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        have += int(keep.sum())
    x, y = np.concatenate(xs)[:n], np.concatenate(ys)[:n]
    return datum.wgs84_to_gcj02(x, y)


def _time(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    import prcoords

    gx, gy = _sample_mainland(N_OURS)
    t_ours = _time(lambda: datum.gcj02_to_wgs84(gx, gy), RUNS_OURS)
    sub = list(zip(gy[:N_THEIRS].tolist(), gx[:N_THEIRS].tolist()))  # prcoords wants (lat, lon)
    t_theirs = _time(lambda: [prcoords.gcj_wgs_bored(p) for p in sub], RUNS_THEIRS)

    pps_ours = N_OURS / t_ours
    pps_theirs = N_THEIRS / t_theirs
    print("gcj02 -> wgs84, points inside mainland China (median of runs)")
    print(f"  ours (numpy, {N_OURS:,} pts, {RUNS_OURS} runs):     {t_ours:8.3f} s  {pps_ours:12,.0f} pts/s")
    print(
        f"  prcoords.gcj_wgs_bored ({N_THEIRS:,} pts, {RUNS_THEIRS} runs): {t_theirs:8.3f} s  "
        f"{pps_theirs:12,.0f} pts/s  (~{N_OURS / pps_theirs:.1f} s for {N_OURS:,})"
    )
    print(f"  speed-up: {pps_ours / pps_theirs:.1f}x")

    # accuracy of the two on the common subsample
    n = N_THEIRS
    wx, wy = datum.gcj02_to_wgs84(gx[:n], gy[:n])
    ref = np.array([prcoords.gcj_wgs_bored(p) for p in sub])
    fx, fy = datum.wgs84_to_gcj02(wx, wy)
    rx, ry = datum.wgs84_to_gcj02(ref[:, 1], ref[:, 0])
    deg_to_m = 111_320.0
    ours_res = np.hypot((fx - gx[:n]) * np.cos(np.radians(gy[:n])), fy - gy[:n]).max() * deg_to_m
    their_res = np.hypot((rx - gx[:n]) * np.cos(np.radians(gy[:n])), ry - gy[:n]).max() * deg_to_m
    print(f"  max forward residual |f(inverse(g)) - g|: ours {ours_res:.2e} m, prcoords {their_res:.2e} m")


if __name__ == "__main__":
    main()
