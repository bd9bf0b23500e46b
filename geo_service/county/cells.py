"""Cells and column names as county files write them: text without lost digits, names compared
and the digits of an administrative code.

Column names are compared after folding full-width forms (``ＣＯＤＥ``, ``（``), case, spaces,
brackets and underscores, so ``村（社区）代码``, ``村(社区)代码`` and ``村社区代码`` are one name.
"""

from __future__ import annotations

import datetime
import re
import unicodedata

import numpy as np
import pandas as pd

from geo_service.county import fields

# Removed from column names before comparing: spaces, brackets of every width, underscores, dashes.
_NAME_NOISE = re.compile(r"[\s()\[\]{}<>【】〔〕〈〉《》_\-·.:：、/\\]+")
# Text Excel shows for a long number it turned into scientific notation (4.40111E+17).
SCIENTIFIC = r"^\s*[+-]?\d(?:\.\d+)?[eE]\+?\d+\s*$"


def normalise_name(name: object) -> str:
    """A column name as compared with ``fields.FIELDS`` aliases.

    Parameters
    ----------
    name : object
        The column name as the file spells it.

    Returns
    -------
    str
        NFKC-folded (full-width to half-width), lower case, without spaces, brackets,
        underscores, dashes or dots.
    """
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", str(name)).lower())


def all_aliases() -> set[str]:
    """Every column name the import knows, normalised (for finding a spreadsheet's header row)."""
    names = {normalise_name(a) for kind in fields.FIELDS.values() for aliases in kind.values() for a in aliases}
    return names | {normalise_name(a) for a in fields.DATUM_COLUMN}


def text_column(values: pd.Series) -> pd.Series:
    """Cells as text: stripped ``str``, ``None`` where empty (object dtype, index kept).

    Integers stay integers (``12.0`` read from a numeric field becomes ``"12"``), dates become ISO
    dates; strings are only stripped, so leading zeros and long codes are kept as written.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        midnight = (stamps.dt.normalize() == stamps).all()
        text = stamps.dt.strftime("%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
    elif pd.api.types.is_bool_dtype(values):
        text = values.map(lambda v: None if pd.isna(v) else str(bool(v)))
    elif pd.api.types.is_integer_dtype(values):
        text = values.astype("Int64").astype(object).map(lambda v: None if pd.isna(v) else str(v))
    elif pd.api.types.is_float_dtype(values):
        text = values.map(_float_text)
    elif pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        text = values
    else:
        text = values.astype(object).map(lambda v: v if isinstance(v, str) else _any_text(v))
    # Strip in Arrow (C speed over a quarter of a million rows), then back to str/None.
    arrow = text.astype("string[pyarrow]").str.strip()
    out = arrow.astype(object)
    out[(arrow.isna() | (arrow == "")).to_numpy(dtype=bool)] = None
    return out


def _float_text(value: float) -> str | None:
    if value is None or np.isnan(value):
        return None
    if float(value).is_integer() and abs(value) < 1e18:
        return str(int(value))
    return f"{value:.15g}"


def _any_text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float):
        return _float_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def cell_texts(values: list) -> tuple[list[str | None], list[int]]:
    """Excel cells (as python-calamine reads them) to text, and the positions of numbers that lost digits.

    Integers stay integers (a phone read as ``13812345679.0`` is ``"13812345679"``), dates become
    ISO dates (``2023-03-02``; a time of day is kept when there is one), other numbers keep up to
    15 significant digits as Excel shows them. An integer of 16 or more digits cannot be exact
    (Excel keeps 15): its position is returned so the row is reported, never guessed.
    """
    kinds = set(map(type, values))
    if kinds <= {str}:
        return [v.strip() or None for v in values], []
    if float not in kinds or not kinds <= {str, float}:
        texts = [_cell_text(v) for v in values]
        lost = [i for i, v in enumerate(values) if type(v) is float and abs(v) >= 1e15 and v.is_integer()]
        return texts, lost
    # Numbers and text (empty cells are ""): numbers formatted by numpy, not one by one.
    cells = np.asarray(values, dtype=object)
    is_number = np.fromiter(map(float.__instancecheck__, values), dtype=bool, count=len(values))
    numbers = cells[is_number].astype(float)
    whole = (numbers == np.floor(numbers)) & (np.abs(numbers) < 1e18)
    formatted = np.empty(len(numbers), dtype=object)
    formatted[whole] = np.char.mod("%d", numbers[whole].astype(np.int64)).astype(object)
    formatted[~whole] = np.char.mod("%.15g", numbers[~whole]).astype(object)
    out = cells.copy()
    out[is_number] = formatted
    for i in np.flatnonzero(~is_number):
        out[i] = out[i].strip() or None
    lost = np.flatnonzero(is_number)[whole & (np.abs(numbers) >= 1e15)].tolist()
    return out.tolist(), lost


def _cell_text(value: object) -> str | None:
    if type(value) is str:
        return value.strip() or None
    if value is None:
        return None
    if type(value) is float:
        return _float_text(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() else value.isoformat(sep=" ")
    return _any_text(value)


def scientific(values: pd.Series) -> np.ndarray:
    """Where text is a number in scientific notation (``4.40111E+17``): digits Excel lost."""
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(values.astype(object).to_numpy(), type=pa.string(), from_pandas=True)
    return pc.fill_null(pc.match_substring_regex(array, SCIENTIFIC), False).to_numpy(zero_copy_only=False)


def digits(values: pd.Series) -> pd.Series:
    """Codes reduced to their digits: full-width digits folded, spaces removed; ``None`` where the
    text is not all digits (a name, a code in scientific notation, an empty cell)."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    text = text.str.normalize("NFKC").str.replace(r"\s+", "", regex=True)
    return text.where(text.str.fullmatch(r"\d+"), None)
