"""Bulk assignment of files: every row answered, bad rows named by number, the same answers as locate."""

from __future__ import annotations

import os
import subprocess
import sys

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo_service.coordinates import datum
from geo_service.errors import InvalidInput
from geo_service.lookup.bulk_assign import assign_file, assign_points, snapshot
from geo_service.lookup.locate import locate

from .tiny_county import EAST, WEST

ROWS = [
    # (lon, lat, crs, expected status, expected grid or error words)
    ("104.01", "30.04", "cgcs2000", "assigned", WEST + "001001"),
    ("104.05", "30.00", "cgcs2000", "assigned", WEST + "001002"),  # the four-grid vertex
    ("104.075", "29.975", "wgs84", "assigned", WEST + "005"),  # in the hole: the island
    ("abc", "30.0", "cgcs2000", "error", "lon 'abc' is not a number"),
    ("", "30.0", "cgcs2000", "error", "lon is empty"),
    ("30.04", "104.04", "cgcs2000", "error", "look swapped"),
    ("116.4", "39.9", "cgcs2000", "error", "outside the area this deployment covers"),
    ("104.25", "30.02", "cgcs2000", "outside_grids", EAST + "002"),
    ("104.18", "29.96", "itrf2014", "error", "unknown datum 'itrf2014'"),
    ("104.1", "95", "cgcs2000", "error", "lat 95.0 is outside -90 to 90"),
]


def _gcj(lon: float, lat: float) -> tuple[str, str]:
    x, y = datum.convert(lon, lat, "cgcs2000", "gcj02")
    return repr(float(x)), repr(float(y))


@pytest.fixture
def mixed_csv(tmp_path):
    rows = list(ROWS) + [(*_gcj(104.18, 29.96), "gcj-02", "assigned", EAST + "001")]
    frame = pd.DataFrame(
        [{"case": f"C{n}", "lon": lon, "lat": lat, "datum": crs} for n, (lon, lat, crs, *_) in enumerate(rows)]
    )
    path = tmp_path / "calls.csv"
    frame.to_csv(path, index=False)
    return path, rows


def test_every_row_is_answered_and_bad_rows_are_named_by_number(tiny_engine, settings, mixed_csv, tmp_path):
    source, rows = mixed_csv
    out = tmp_path / "assigned.csv"
    summary = assign_file(
        tiny_engine, source, out, crs_column="datum", at=pd.Timestamp("2026-01-15T10:00+08:00"), settings=settings
    )
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(written["case"]) == [f"C{n}" for n in range(len(rows))]  # every row, in order
    for n, (_, _, _, status, expected) in enumerate(rows):
        assert written.loc[n, "status"] == status, n
        if status == "error":
            assert expected in written.loc[n, "error"], (n, written.loc[n, "error"])
        else:
            assert written.loc[n, "grid_code"] == expected, n
    assert summary.assigned == 4 and summary.outside_grids == 1
    assert list(summary.errors["row"]) == [n + 1 for n, r in enumerate(rows) if r[3] == "error"]
    near = written.loc[7]
    assert float(near["nearest_distance_m"]) == pytest.approx(4821, abs=10)


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(tiny_engine, settings, mixed_csv, tmp_path):
    source, _ = mixed_csv
    out = tmp_path / "assigned.csv"
    summary = assign_file(tiny_engine, source, out, crs_column="datum", all_or_nothing=True, settings=settings)
    assert summary.written is False and not out.exists()


def test_the_same_answers_as_locate_on_random_points(tiny_engine, settings):
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(103.99, 104.21, 400), rng.uniform(29.94, 30.06, 400)
    with tiny_engine.connect() as connection:
        snap = snapshot(connection, None, settings)
    result = assign_points(snap, lon, lat)
    for x, y, (_, row) in zip(lon, lat, result.iterrows()):
        found = locate(tiny_engine, x, y, settings=settings).to_dict()
        expected = found["grid"]["code"] if found["grid"] else found["nearest_grid"]["code"]
        assert row["grid_code"] == expected
        assert row["status"] == ("assigned" if found["inside"] else "outside_grids")


@pytest.mark.parametrize("suffix", [".geojson", ".parquet", ".gpkg"])
def test_spatial_files_in_and_out_with_non_points_reported(tiny_engine, settings, tmp_path, suffix):
    frame = gpd.GeoDataFrame(
        {"case": ["a", "b", "c"]},
        geometry=[shapely.Point(104.07, 30.04), shapely.box(104.0, 30.0, 104.01, 30.01), shapely.Point(104.12, 30.0)],
        crs=4490,
    )
    source = tmp_path / f"in{suffix}"
    frame.to_parquet(source) if suffix == ".parquet" else frame.to_file(source)
    out = tmp_path / f"out{suffix}"
    summary = assign_file(tiny_engine, source, out, at=pd.Timestamp("2026-01-15T10:00+08:00"), settings=settings)
    back = gpd.read_parquet(out) if suffix == ".parquet" else gpd.read_file(out)
    assert list(back["grid_code"].fillna("")) == [WEST + "002", "", EAST + "001"]
    assert "a Polygon, not a point" in back.loc[1, "error"]
    assert list(summary.errors["row"]) == [2]
    assert back.crs.to_epsg() == 4490


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("x.txt", "lon,lat\n1,2\n", "unknown file type"),
        ("x.csv", "x,y\n1,2\n", "no column lon"),
        ("x.geojson", "{not json", "cannot be read"),
    ],
)
def test_a_malformed_file_is_refused_with_the_reason(tiny_engine, settings, tmp_path, name, content, words):
    source = tmp_path / name
    source.write_text(content)
    with pytest.raises(InvalidInput, match=words):
        assign_file(tiny_engine, source, tmp_path / "out.csv", settings=settings)


def test_the_command_line_reports_rows_and_progress(tiny_url, mixed_csv, tmp_path):
    source, rows = mixed_csv
    out = tmp_path / "out.parquet"
    env = {**{k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"}, "DATABASE_URL": tiny_url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo_service.cli.main",
            "assign",
            str(source),
            "--out",
            str(out),
            "--crs-column",
            "datum",
            "--at",
            "2026-01-15T10:00:00",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # The summary and each row's problem in Chinese, the English after it in brackets for scripts.
    summary = next(line for line in done.stderr.splitlines() if line.startswith("共 11 行"))
    assert summary.startswith("共 11 行：4 行已分配到网格，1 行不在任何网格内（已给出最近的网格），")
    assert "（11 rows: 4 assigned, 1 outside every grid (nearest given), " in summary
    assert "  第 4 行：lon 的值 'abc' 不是数字" in done.stderr and "row 4: lon 'abc' is not a number" in done.stderr
    assert "未知的坐标系 'itrf2014'" in done.stderr  # a row's reason the assignment gives, in Chinese too
    assert "分配到网格" in done.stderr  # the progress, in Chinese
    assert len(gpd.read_parquet(out)) == len(rows)
    strict = subprocess.run(
        [
            sys.executable,
            "-m",
            "geo_service.cli.main",
            "assign",
            str(source),
            "--out",
            str(tmp_path / "strict.csv"),
            "--crs-column",
            "datum",
            "--all-or-nothing",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert strict.returncode == 1 and "未写入任何内容：指定了 --all-or-nothing" in strict.stderr
    assert "nothing written" in strict.stderr
    assert not (tmp_path / "strict.csv").exists()
