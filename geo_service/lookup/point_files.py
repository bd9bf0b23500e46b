"""Files of points as county offices send them: CSV with two coordinate columns, GeoJSON,
GeoPackage or GeoParquet with point geometries; read whole or streamed in chunks, each row's
coordinates with what is wrong with them, and written back with their assignment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely

from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_SRID

FORMATS = {
    ".csv": "csv",
    ".geojson": "geojson",
    ".json": "geojson",
    ".parquet": "parquet",
    ".geoparquet": "parquet",
    ".gpkg": "gpkg",
}


def file_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInput(
            t(
                "{name}: unknown file type {suffix!r}; use one of {FORMATS}",
                name=path.name,
                suffix=suffix,
                FORMATS=", ".join(sorted(FORMATS)),
            ),
            field="file",
        )
    return FORMATS[suffix]


def read_points(
    path: Path, lon_column: str = "lon", lat_column: str = "lat"
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """A file's rows, their coordinates, and per row what is wrong with them ("" if nothing).

    CSV files give coordinates in two columns; GeoJSON, GeoPackage and GeoParquet in their point
    geometry. A row without usable coordinates is kept and its problem named, never dropped.
    """
    kind = file_format(path)
    if not path.exists():
        raise InvalidInput(t("{path}: no such file", path=path), field="file")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, engine="pyarrow")
            return (frame, *_csv_coordinates(frame, path, lon_column, lat_column))
        frame = gpd.read_parquet(path) if kind == "parquet" else gpd.read_file(path, engine="pyogrio")
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed file is reported, whatever the reader raised
        raise InvalidInput(
            t("{name} cannot be read as {kind}: {exc}", name=path.name, kind=kind, exc=exc), field="file"
        ) from exc
    geometry = np.asarray(frame.geometry.values, dtype=object)
    kinds = shapely.get_type_id(geometry)
    is_point = (kinds == 0) & ~shapely.is_empty(geometry)
    problems = np.full(len(frame), "", dtype=object)
    problems[kinds == -1] = "the row has no geometry"
    others = (kinds > 0) | ((kinds == 0) & ~is_point)
    problems[others] = [
        f"the geometry is {'an empty point' if g.geom_type == 'Point' else 'a ' + g.geom_type}, not a point"
        for g in geometry[others]
    ]
    lon = np.full(len(frame), np.nan)
    lat = np.full(len(frame), np.nan)
    lon[is_point] = shapely.get_x(geometry[is_point])
    lat[is_point] = shapely.get_y(geometry[is_point])
    return pd.DataFrame(frame.drop(columns=frame.geometry.name)), lon, lat, problems


def _csv_coordinates(
    frame: pd.DataFrame, path: Path, lon_column: str, lat_column: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CSV file's coordinates as numbers, and per row what is wrong with them."""
    missing = [c for c in (lon_column, lat_column) if c not in frame.columns]
    if missing:
        raise InvalidInput(
            t(
                "{name}: no column {missing} (columns: {columns})",
                name=path.name,
                missing=", ".join(missing),
                columns=", ".join(frame.columns),
            ),
            field="file",
        )
    problems = np.full(len(frame), "", dtype=object)
    columns = []
    for column in (lon_column, lat_column):
        raw = frame[column].str.strip()
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(values) & (problems == "")
        problems[bad] = [
            t("{column} is empty", column=column)
            if not v
            else t("{column} {value!r} is not a number", column=column, value=v)
            for v in raw[bad]
        ]
        columns.append(values)
    return columns[0], columns[1], problems


def read_point_chunks(
    path: Path, lon_column: str = "lon", lat_column: str = "lat", rows: int = 200_000
) -> Iterator[tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`read_points` about ``rows`` rows at a time. A CSV file is streamed (pyarrow reads
    it block by block), so that a file of any length is never in memory at once; the other
    formats are read whole and handed out in chunks. Always at least one chunk, maybe empty."""
    if file_format(path) != "csv":
        frame, lon, lat, problems = read_points(path, lon_column, lat_column)
        for start in range(0, max(len(frame), 1), rows):
            end = start + rows
            yield frame.iloc[start:end].reset_index(drop=True), lon[start:end], lat[start:end], problems[start:end]
        return
    if not path.exists():
        raise InvalidInput(t("{path}: no such file", path=path), field="file")
    try:
        names = pa_csv.open_csv(path).schema.names
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=16 << 20),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
        )
        held = pa.Table.from_batches([], schema=reader.schema)
        given = False
        for batch in reader:
            held = pa.concat_tables([held, pa.Table.from_batches([batch])])
            while held.num_rows >= rows:  # exactly ``rows`` at a time, whatever pyarrow's blocks hold
                frame = held.slice(0, rows).to_pandas()
                held, given = held.slice(rows), True
                yield (frame, *_csv_coordinates(frame, path, lon_column, lat_column))
        if held.num_rows or not given:
            frame = held.to_pandas()
            yield (frame, *_csv_coordinates(frame, path, lon_column, lat_column))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:  # a malformed file, reported as such
        raise InvalidInput(
            t("{name} cannot be read as {kind}: {exc}", name=path.name, kind="csv", exc=exc), field="file"
        ) from exc


def write_assigned(frame: pd.DataFrame, result: pd.DataFrame, path: Path) -> None:
    """The input rows with their assignment, in the format the file name asks for."""
    kind = file_format(path)
    out = pd.concat([frame.reset_index(drop=True), result.reset_index(drop=True)], axis=1)
    if kind == "csv":
        out.to_csv(path, index=False)
        return
    geometry = gpd.points_from_xy(result["lon_cgcs2000"], result["lat_cgcs2000"])
    spatial = gpd.GeoDataFrame(out, geometry=geometry, crs=STORAGE_SRID)
    if kind == "parquet":
        spatial.to_parquet(path)
    else:
        spatial.to_file(path, driver="GeoJSON" if kind == "geojson" else "GPKG", engine="pyogrio")
