"""How one cell of a rule table, given as text, is read: each reader returns the value as the
database stores it or raises ``Bad`` with the reason in plain words, a message of the catalogue
(``geo_service.i18n.t``) so that it is read in the reader's language (``geo_service.rules.tables``
puts the readers together into tables)."""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable

from geo_service.i18n import Message, t

MAX_ROWS = 10_000
MAX_LIMIT_HOURS = 24 * 366 * 5  # five years: a longer limit is a typing slip, not a rule
_CODE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TRUE = {"true", "1", "yes", "y", "t", "是", "真"}
_FALSE = {"false", "0", "no", "n", "f", "否", "假"}

Value = str | int | float | bool | None


class Bad(ValueError):
    """A cell that cannot be used: ``reason`` says why, in plain words."""

    def __init__(self, reason: Message) -> None:
        super().__init__(reason)
        self.reason = reason


def code(max_len: int) -> Callable[[str | None], str]:
    def parse(text: str | None) -> str:
        if text is None:
            raise Bad(t("empty: a code is needed"))
        if len(text) > max_len:
            raise Bad(t("{value!r} is longer than {max_len} characters", value=text, max_len=max_len))
        if not _CODE.match(text):
            raise Bad(
                t("{value!r} is not a code: use lower-case letters, digits and _ (like public_service)", value=text)
            )
        return text

    return parse


def words(max_len: int = 200) -> Callable[[str | None], str]:
    def parse(text: str | None) -> str:
        if text is None:
            raise Bad(t("empty: a value is needed"))
        if len(text) > max_len:
            raise Bad(t("longer than {max_len} characters", max_len=max_len))
        return text

    return parse


def one_of(values: tuple[str, ...], *, optional: bool = False) -> Callable[[str | None], str | None]:
    def parse(text: str | None) -> str | None:
        if text is None:
            if optional:
                return None
            raise Bad(t("empty: one of {values} is needed", values=", ".join(values)))
        if text not in values:
            if optional:
                raise Bad(
                    t("{value!r} is not one of {values} (or empty for any)", value=text, values=", ".join(values))
                )
            raise Bad(t("{value!r} is not one of {values}", value=text, values=", ".join(values)))
        return text

    return parse


def optional_code(max_len: int) -> Callable[[str | None], str | None]:
    required = code(max_len)
    return lambda text: None if text is None else required(text)


def whole(low: int, high: int, what: Message) -> Callable[[str | None], int]:
    def parse(text: str | None) -> int:
        if text is None:
            raise Bad(t("empty: {what} is needed", what=what))
        try:
            number = float(text)
        except ValueError:
            raise Bad(t("{value!r} is not a number", value=text)) from None
        if not math.isfinite(number) or number != int(number):
            raise Bad(t("{value!r} is not a whole number", value=text))
        if not low <= number <= high:
            raise Bad(
                t("{value} is out of range: {what} must be {low} to {high}", value=text, what=what, low=low, high=high)
            )
        return int(number)

    return parse


def real(low: float, high: float, what: Message) -> Callable[[str | None], float]:
    def parse(text: str | None) -> float:
        if text is None:
            raise Bad(t("empty: {what} is needed", what=what))
        try:
            number = float(text)
        except ValueError:
            raise Bad(t("{value!r} is not a number", value=text)) from None
        if not (math.isfinite(number) and low < number <= high):
            raise Bad(
                t(
                    "{value} is out of range: {what} must be more than {low:g} and at most {high:g}",
                    value=text,
                    what=what,
                    low=low,
                    high=high,
                )
            )
        return number

    return parse


def boolean(text: str | None) -> bool:
    if text is None:
        raise Bad(t("empty: write true or false"))
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise Bad(t("{value!r} is neither true nor false", value=text))


def optional_words(max_len: int = 200) -> Callable[[str | None], str | None]:
    required = words(max_len)
    return lambda text: None if text is None else required(text)


def labelled(
    values: tuple[str, ...], labels: dict[str, str], *, optional: bool = False
) -> Callable[[str | None], str | None]:
    """One of ``values``, given as the code or as a county writes it (``labels``: 红色 -> red)."""
    plain = one_of(values, optional=optional)
    return lambda text: plain(labels.get(text, text) if text is not None else None)


def pattern(regex: str, what: Message, *, optional: bool = False) -> Callable[[str | None], str | None]:
    """Text matching ``regex`` in full (``what`` says, in a message, what it must be)."""

    def parse(text: str | None) -> str | None:
        if text is None:
            if optional:
                return None
            raise Bad(t("empty: {what} is needed", what=what))
        if not re.fullmatch(regex, text):
            raise Bad(t("{value!r} is not {what}", value=text, what=what))
        return text

    return parse


county_code = pattern(r"\d{6}000000", t("a county's code (12 digits ending in 000000, like 511421000000)"))
town_code = pattern(
    r"\d{6}(?!000)\d{3}000", t("a town's code (12 digits ending in 000, like 511421101000)"), optional=True
)
# A place a routing rule holds for: a county, town or village code, or the first digits of one.
place_code = pattern(r"\d{6,12}", t("a place: a town or village code, or its first 6 to 12 digits"), optional=True)
phone = pattern(r"\+?[0-9][0-9 -]{3,18}[0-9]", t("a phone number (the department's people are told by text message)"))


# Departments (county departments 县直部门, town offices 乡镇站所) and the duty of their people,
# with the words a county's own list may use for them.
DEPARTMENT_KINDS = ("county_department", "town_office")
DUTIES = ("head", "member")
# A case's transfer to a department: waiting for the department, taken on, sent back, or replaced
# by a transfer to another department.
TRANSFER_STATES = ("pending", "accepted", "returned", "withdrawn")
_KIND_WORDS = {"县直部门": "county_department", "县级部门": "county_department", "乡镇站所": "town_office"}
_KIND_WORDS |= {"乡镇（街道）站所": "town_office", "街道站所": "town_office", "乡镇部门": "town_office"}
_DUTY_WORDS = {"负责人": "head", "主要负责人": "head", "分管负责人": "head", "成员": "member", "工作人员": "member"}
_COLOUR_WORDS = {"红": "red", "红色": "red", "黄": "yellow", "黄色": "yellow", "蓝": "blue", "蓝色": "blue"}


def _own(**columns: str) -> dict[str, str]:
    """A county's own names of columns: ``code="事项编码 编码"`` reads either as ``code``."""
    return {own: column for column, names in columns.items() for own in names.split()}


# What a notification's template may name (``geo_service.cases.notices`` fills them in).
NOTICE_FIELDS = ("to", "role", "case", "category", "risk", "place", "deadline", "note", "action", "status")


def notice_text(text: str | None) -> str:
    if text is None:
        raise Bad(t("empty: a message text is needed"))
    if len(text) > 500:
        raise Bad(t("longer than 500 characters (a text message)"))
    try:
        named = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as e:
        raise Bad(
            t(
                "{value!r} is not a template: {reason} (write a value's name in braces, like {example})",
                value=text,
                reason=str(e),
                example="{case}",
            )
        ) from None
    unknown = sorted(named - set(NOTICE_FIELDS))
    if unknown:
        raise Bad(
            t(
                "{unknown} is not a value a message can show; use {fields}",
                unknown=", ".join(unknown),
                fields=", ".join(NOTICE_FIELDS),
            )
        )
    return text
