"""The values of a county's people files (rosters, cameras) as the files write them: cells, unit
codes, phone numbers, days; and the stable officer code of a roster row without one.

``unit_code`` and ``phone_number`` return None for an empty cell and raise ValueError with a
message (``geo_service.i18n.t``) saying why a value is unreadable. (Days are read by
``geo_service.times.read_written_day``.)
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata

import pandas as pd

from geo_service.county import unit_codes
from geo_service.i18n import t

_WHOLE_FLOAT = re.compile(r"^(\d+)\.0*$")


def cell(value: object) -> str | None:
    """A cell as text (full-width characters made ordinary, stripped), None when empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    return raw or None


def unit_code(value: object) -> str | None:
    """A unit code from a cell (``unit_codes``: full-width digits, spaces, ``.0`` removed; a 9-digit
    town code padded to 12); ValueError saying why it is none (digits lost to Excel are not guessed)."""
    if cell(value) is None:
        return None
    code, reason = unit_codes.clean_code(value)
    if code is not None:
        code, reason = unit_codes.unit_code(code)
    if code is None:
        raise ValueError(reason)
    return code


def phone_number(value: object) -> str | None:
    """A phone as digits only: an 11-digit mobile starting 1, or a landline with its area code
    (starting 0); spaces, dashes, +86/0086 and Excel's ``.0`` removed. ValueError saying why."""
    raw = cell(value)
    if raw is None:
        return None
    number = re.sub(r"[\s\-()]", "", raw)
    whole = _WHOLE_FLOAT.match(number)
    if whole:
        number = whole.group(1)
    country = False
    for prefix in ("+86", "0086"):
        if number.startswith(prefix):
            number, country = number[len(prefix) :], True
    if country and number[:1] not in ("1", "0"):
        number = "0" + number  # a landline written internationally drops its trunk 0
    if re.fullmatch(r"1[3-9]\d{9}", number) or re.fullmatch(r"0[1-9]\d{8,10}", number):
        return number
    raise ValueError(
        t("{value!r} is neither an 11-digit mobile number starting with 1 nor a landline with its area code", value=raw)
    )


def generated_code(name: str, phone: str | None) -> str:
    """A stable officer code for a roster without one: the same name and phone, the same code."""
    return "P" + hashlib.sha1(f"{name}\x1f{phone or ''}".encode()).hexdigest()[:15]
