"""How a time is read: one parser for every time that comes in, and the county's zone applied
here, by the library, never by a route or a command.

Times are stored as ``timestamptz``. A time that comes without a zone (a form, a spreadsheet,
``--at 2026-11-01``) is the county's local time, and the county's calendar day decides "today",
"this week" and who held a post on a date.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from geo_service.errors import InvalidInput
from geo_service.i18n import t

# The zone every county in China keeps; a deployment may set another (settings: ``timezone``).
DEFAULT_ZONE = "Asia/Shanghai"

# The world's UTC offsets run from -12:00 to +14:00; PostgreSQL refuses beyond +-15:59.
MAX_UTC_OFFSET = timedelta(hours=14)

# How county files write times and days besides ISO 8601: 2024/3/5 9:05, 2024年3月5日, 2023.3.1,
# 20230301, or an Excel serial number of days.
EXCEL_EPOCH = date(1899, 12, 30)  # day 0 of Excel's 1900 date system (its false 1900-02-29 included)
_WRITTEN_TIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:[T\s]\s*(\d{1,2}):(\d{2})(.*))?$"
)
_DAY_ZH = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?(\s.*)?$")
_DAY_SEP = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})([\sT].*)?$")
_DAY_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{1,6}(\.\d+)?$")


def storable(moment: datetime) -> datetime:
    """``moment`` if it names a real instant the database can store; ValueError saying why not.

    Python accepts offsets up to +-23:59 and dates whose UTC instant falls outside years 1 to 9999;
    neither is a time anyone reports, and both would fail deep inside a query.
    """
    offset = moment.utcoffset()
    if offset is not None:
        if abs(offset) > MAX_UTC_OFFSET:
            raise ValueError(f"the UTC offset {moment.strftime('%z')} is outside -1200 to +1400")
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{moment.isoformat()} is out of range") from None
    return moment


def read_time(value: object, zone: str) -> datetime | None:
    """A time from a file's cell or a request (ISO 8601 text, ``Z`` allowed, a date, a datetime,
    a pandas Timestamp), aware, in the county's ``zone`` if it had none; None if it is no time."""
    if value is None:
        return None
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp, without importing pandas here
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    else:
        raw = str(value).strip()
        if not raw:
            return None
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
    try:
        return storable(as_aware(moment, zone))
    except ValueError:
        return None


def read_written_time(raw: str, zone: str) -> datetime | None:
    """A time as :func:`read_time` reads it, also in the spellings county exports use
    (2024/3/5 9:05, 2024年3月5日)."""
    moment = read_time(raw, zone)
    if moment is None and (day := _WRITTEN_TIME.match(str(raw).strip())):
        year, month, dom, hour, minute, rest = day.groups()
        clock = f" {int(hour):02d}:{minute}{rest.strip()}" if hour else ""
        moment = read_time(f"{year}-{int(month):02d}-{int(dom):02d}{clock}", zone)
    return moment


def read_written_day(value: object, zone: str | None = None) -> date | None:
    """A calendar day from a cell: a date, an ISO date, ``2023年3月1日``, ``2023/3/1``, ``2023.3.1``,
    ``20230301`` or an Excel serial number (a time with a zone counts as the day in ``zone``);
    None for an empty cell, ValueError with a message (``geo_service.i18n.t``) saying why when it
    is no day."""
    if isinstance(value, datetime):  # pandas' Timestamp too
        if value != value:  # NaT
            return None
        return value.astimezone(ZoneInfo(zone)).date() if value.tzinfo and zone else value.date()
    if isinstance(value, date):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    raw = unicodedata.normalize("NFKC", str(value)).strip()
    if not raw:
        return None
    for pattern in (_DAY_ZH, _DAY_SEP, _DAY_COMPACT):
        match = pattern.match(raw)
        if match:
            try:
                return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
            except ValueError:
                raise ValueError(t("{value!r} is not a day of the calendar", value=raw)) from None
    if _SERIAL.match(raw):
        day = EXCEL_EPOCH + timedelta(days=int(float(raw)))
        if 1900 <= day.year <= 2100:
            return day
    raise ValueError(t("{value!r} is not a date (write it as 2023-03-01, 2023年3月1日 or 2023/3/1)", value=raw))


def parse_moment(raw: object, field: str, zone: str, error: type[InvalidInput] = InvalidInput) -> datetime:
    """A time from a request or a command, aware (the county's ``zone`` if it had none), or
    ``error`` naming ``field`` and saying why it is no time."""
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise error(f"{field}: {raw!r} is not an ISO 8601 time", field=field) from None
    elif isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime.combine(raw, time())
    else:
        raise error(f"{field}: {raw!r} is not a time", field=field)
    try:
        return storable(as_aware(moment, zone))
    except ValueError as exc:
        raise error(f"{field}: {exc}", field=field) from None


def as_aware(moment: datetime | None, zone: str) -> datetime:
    """``moment`` with a time zone (the county's if it has none); now, in the county's zone, if ``None``."""
    if moment is None:
        return now(zone)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ZoneInfo(zone))
    return moment


def optional_aware(moment: datetime | None, zone: str) -> datetime | None:
    """``moment`` made aware as :func:`as_aware` does, or None when no time was given."""
    return None if moment is None else as_aware(moment, zone)


def now(zone: str) -> datetime:
    """This moment, in the county's zone."""
    return datetime.now(ZoneInfo(zone))


def local_day(moment: datetime, zone: str) -> date:
    """The county's calendar day at ``moment``: responsibilities are held by the day."""
    return moment.astimezone(ZoneInfo(zone)).date()


def start_of_day(day: date, zone: str) -> datetime:
    """Midnight at the start of the county's ``day``."""
    return datetime.combine(day, time(), ZoneInfo(zone))
