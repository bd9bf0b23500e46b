"""The values of a county's past cases as its files write them.

Category, source, status, satisfaction and risk colour are read by their code or by the names an
administrator keeps in the tables (``categories``/``sources`` by code or ``name_zh``, and
``value_aliases``); times are read in the county's zone, also in the spellings county exports use.
Each reader takes a column and returns the stored values, None (or NaT) where empty or unknown.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases.states import STATUSES
from geo_service.county.report import brief
from geo_service.i18n import Message
from geo_service.times import read_written_time
from geo_service.vocabulary import RISK_COLOURS

_US = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PLAIN = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?"


def _key(value: object) -> str:
    """A name as compared: full-width folded, spaces dropped, case ignored."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value))).casefold()


def vocabularies(connection: Connection) -> dict[str, tuple[dict[str, str], str | Message]]:
    """Per field, every accepted name (normalised) -> the stored value, and the names to show."""
    aliases = connection.execute(text("SELECT field, alias, value FROM value_aliases ORDER BY field, alias")).all()
    found: dict[str, tuple[dict[str, str], str | Message]] = {}
    for field, table in (("category", "categories"), ("source", "sources")):
        rows = connection.execute(text(f"SELECT code, name_zh FROM {table} ORDER BY code")).all()
        names = {_key(code): code for code, _ in rows} | {_key(zh): code for code, zh in rows}
        names |= {_key(a): v for f, a, v in aliases if f == field and v in names.values()}
        found[field] = names, brief([f"{zh} ({code})" for code, zh in rows])
    for field, codes in (("status", STATUSES), ("risk_colour", RISK_COLOURS), ("satisfaction", ())):
        named = [(a, v) for f, a, v in aliases if f == field]
        names = {_key(c): c for c in codes} | {_key(a): v for a, v in named}
        found[field] = names, brief(list(codes) + [a for a, _ in named], 16)
    return found


def column_text(frame: pd.DataFrame, field: str) -> pd.Series:
    if field not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = frame[field].astype(object)
    return values.where(values.notna() & (values.astype(str).str.strip() != ""), None)


def to_stored(values: pd.Series, names: dict[str, str]) -> pd.Series:
    """Each value's stored value (None where empty or unknown)."""
    keys = {v: names.get(_key(v)) for v in values.dropna().unique()}
    return values.map(keys).astype(object)


def read_case_times(values: pd.Series, zone: str) -> tuple[pd.Series, np.ndarray]:
    """UTC times (NaT where empty or unreadable) and which cells were unreadable.

    Plain local times (2024-03-05 09:00[:00]) are read at once by pandas in the county's zone; any
    other text, and a local time that is ambiguous or skipped by a clock change, is read by
    :func:`geo_service.times.read_written_time`, once per distinct text.
    """
    plain = values.str.fullmatch(_PLAIN).fillna(False).astype(bool)
    fast = pd.to_datetime(values.where(plain), format="ISO8601", errors="coerce")
    fast = fast.dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    rest = values.where(fast.isna())
    micros = {}
    for raw in rest.dropna().unique():
        moment = read_written_time(raw, zone)
        if moment is not None:
            micros[raw] = (moment - _EPOCH) // _US
    mapped = rest.map(micros)  # microseconds since 1970 stay exact in a float64 up to 2255
    found = fast.fillna(pd.to_datetime(mapped, unit="us", utc=True)).astype("datetime64[ns, UTC]")
    return found, (values.notna() & found.isna()).to_numpy()


def read_satisfaction(values: pd.Series, names: dict[str, str]) -> pd.Series:
    def one(raw: str) -> int | None:
        number = pd.to_numeric(unicodedata.normalize("NFKC", raw).strip(), errors="coerce")
        if np.isfinite(number) and number == int(number) and 1 <= number <= 5:
            return int(number)
        named = names.get(_key(raw))
        return int(named) if named is not None else None

    return values.map({v: one(v) for v in values.dropna().unique()}).astype("Int64")
