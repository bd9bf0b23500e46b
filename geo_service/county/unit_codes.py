"""Unit codes as county files write them, made exact: statistical division codes (统计用区划代码)
of towns (9 or 12 digits) and villages (12), and grid codes (15, 18 or 21 digits, DB11/T 2157).

Files write codes in many ways: with full-width digits, stray spaces, as numbers (``350322100.0``),
or ruined by Excel's scientific notation (``3.50322E+11``), whose lost digits cannot be guessed:
such a code is refused with its reason, never rounded back into a plausible one.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

from geo_service.i18n import Message, t

_DIGITS = re.compile(r"^\d+$")
_SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_FLOAT_INTEGER = re.compile(r"^(\d+)\.0+$")
# The lengths a unit code may have, and the level each means.
LEVEL_OF_LENGTH = {6: "county", 9: "town", 12: "village", 15: "grid", 18: "grid", 21: "grid"}


def clean_code(value: object) -> tuple[str | None, Message | None]:
    """``(code, None)`` with the code as digits only, or ``(None, reason)`` saying why it is none.

    Full-width digits become ASCII, spaces go, a number written as ``350322100.0`` loses its
    ``.0``; a code in scientific notation, or with other characters, is refused.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None, t("no code")
    text = unicodedata.normalize("NFKC", str(value)).strip().replace(" ", "").replace("\u3000", "")
    if not text:
        return None, t("no code")
    if _SCIENTIFIC.match(text):
        return None, t(
            "{value!r} is in scientific notation: Excel has lost its digits; write the code as text", value=value
        )
    match = _FLOAT_INTEGER.match(text)
    if match:
        text = match.group(1)
    if not _DIGITS.match(text):
        return None, t("{value!r} is not a code of digits", value=value)
    return text, None


def town_code(code: str) -> tuple[str | None, Message | None]:
    """A town's 12-digit code from 9 or 12 digits (``350322100`` -> ``350322100000``)."""
    if len(code) == 9:
        return code + "000", None
    if len(code) == 12 and code.endswith("000"):
        return code, None
    return None, t("{code!r} is not a town code (9 digits, or 12 ending in 000)", code=code)


def county_code(code: str) -> tuple[str | None, Message | None]:
    """A county's 12-digit code from 6 or 12 digits (``350322`` -> ``350322000000``)."""
    if len(code) == 6:
        return code + "000000", None
    if len(code) == 12 and code.endswith("000000"):
        return code, None
    return None, t("{code!r} is not a county code (6 digits, or 12 ending in 000000)", code=code)


def village_code(code: str) -> tuple[str | None, Message | None]:
    if len(code) == 12 and not code.endswith("000"):
        return code, None
    return None, t("{code!r} is not a village or community code (12 digits)", code=code)


def grid_code(code: str) -> tuple[str | None, Message | None]:
    if len(code) in (15, 18, 21):
        return code, None
    return None, t("{code!r} is not a grid code (15, 18 or 21 digits)", code=code)


def unit_code(code: str) -> tuple[str | None, Message | None]:
    """Any unit's code: a town's 9 digits padded to 12, or 12 to 21 digits as they are."""
    if len(code) == 9:
        return town_code(code)
    if len(code) in (12, 15, 18, 21):
        return code, None
    return None, t("{code!r} is not a unit code (a town, village or grid: 9, 12, 15, 18 or 21 digits)", code=code)


SHAPES = {"county": county_code, "town": town_code, "village": village_code, "grid": grid_code, "unit": unit_code}


def clean_codes(values: pd.Series, level: str) -> tuple[pd.Series, pd.Series]:
    """Every value of ``values`` as a code of ``level`` (county, town, village, grid, or unit: any
    of them): the codes (None where refused) and the reasons (None where accepted)."""
    shape = SHAPES[level]
    codes, reasons = [], []
    for value in values.tolist():
        code, reason = clean_code(value)
        if code is not None:
            code, reason = shape(code)
        codes.append(code)
        reasons.append(reason)
    return pd.Series(codes, index=values.index, dtype=object), pd.Series(reasons, index=values.index, dtype=object)
