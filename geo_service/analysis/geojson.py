"""The documents an analysis answers with: GeoJSON FeatureCollections for maps, rows for tables.

One serialiser for the API, the command line and the notebooks, so that each gives the same
document for the same analysis. Coordinates are CGCS2000 lon/lat (within a metre of WGS84) to a
micro-degree (about 0.1 m); a ``metadata`` member says what was computed and how; NaN and
infinities become null, times ISO 8601 text.

>>> doc = feature_collection(counts(engine, where, "town", place=settings.place), COLUMNS["counts"])
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_service.vocabulary import STORAGE_CRS, STORAGE_SRID

# The columns each analysis's map shows, by the analysis's name in the API (``/analysis/<name>``).
RATE_COLUMNS = [
    "code",
    "name",
    "count",
    "population",
    "households",
    "grid_workers",
    "area_km2",
    "per_1000",
    "per_worker",
    "per_km2",
]
HOTSPOT_COLUMNS = ["code", "name", "count", "per_1000", "gi_z", "z_sim", "p_value", "p_sim", "p_fdr", "class"]
COLUMNS: dict[str, list[str]] = {
    "counts": RATE_COLUMNS,
    "density": ["code", "count", "area_km2", "per_km2"],
    "kde": ["density_per_km2"],
    "clusters": ["cluster", "count", "main_category", "first_reported", "last_reported"],
    "hotspots": HOTSPOT_COLUMNS,
    "emerging": [
        "code",
        "name",
        "count",
        "pattern",
        "hot_steps",
        "cold_steps",
        "n_steps",
        "final_z",
        "trend_tau",
        "trend_z",
        "trend_p",
        "trend",
        "count_trend",
    ],
    "compare": [
        "code",
        "name",
        "base",
        "current",
        "expected",
        "change",
        "change_pct",
        "rate_ratio",
        "p_value",
        "p_fdr",
        "significant",
        "direction",
    ],
    "coverage": ["code", "name", "count", "class", "gi_z", "p_fdr", "incidents", "seen", "share_seen", "unseen"],
}


def json_safe(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN and infinities to null, times to ISO 8601."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (datetime, pd.Timestamp)):
        return value.isoformat()
    return value


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str], **metadata: Any) -> dict:
    """``frame``'s ``columns`` (those it has) as a GeoJSON FeatureCollection with ``metadata``
    (``frame.attrs``, then ``metadata``, then the CRS and the number of features)."""
    frame = frame.to_crs(STORAGE_SRID)
    data = frame[[c for c in columns if c in frame.columns]].copy()
    data["geometry"] = shapely.set_precision(frame.geometry.to_numpy(), 1e-6, mode="pointwise")
    for column in data.columns:
        if pd.api.types.is_datetime64_any_dtype(data[column]):
            data[column] = data[column].map(lambda t: None if pd.isna(t) else t.isoformat())
    body = json.loads(gpd.GeoDataFrame(data, geometry="geometry", crs=STORAGE_SRID).to_json(drop_id=True, na="null"))
    body["metadata"] = json_safe(
        {**frame.attrs, **metadata, "crs": f"{STORAGE_CRS} (CGCS2000) lon/lat", "features": len(data)}
    )
    return body


def table(frame: pd.DataFrame) -> dict:
    """A table's rows (``rows``, one object per row, NaN as null) and ``metadata`` (its ``attrs``)."""
    rows = [json_safe(row) for row in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")]
    return {"metadata": json_safe(frame.attrs), "rows": rows}
