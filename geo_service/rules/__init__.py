"""The default rules a county starts from, kept as CSV data beside this module.

They seed the database's rule tables (``geo-service db migrate`` then ``demo load``); from then on
the tables are the truth and an administrator changes them there, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import pandas as pd

RULE_FILES = (
    "categories",
    "sources",
    "roles",
    "responsibility_rules",
    "time_limits",
    "access_roles",
    "permissions",
    "job_titles",
    "camera_kinds",
    "value_aliases",
    "regions",
    "notice_templates",
    "departments",
    "department_staff",
    "matters",
    "routing_rules",
)


def read_rule_table(name: str) -> pd.DataFrame:
    """One default rule table, empty cells as ``None``."""
    if name not in RULE_FILES:
        raise KeyError(f"unknown rule table {name!r}; known: {', '.join(RULE_FILES)}")
    with resources.files(__package__).joinpath(f"{name}.csv").open(encoding="utf-8") as f:
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
    frame = frame.replace({"": None})
    for column in ("position", "limit_hours", "annual_share"):
        if column in frame:
            frame[column] = frame[column].astype(int)
    for column in ("fov_deg", "range_m"):
        if column in frame:
            frame[column] = frame[column].astype(float)
    if "core" in frame:
        frame["core"] = frame["core"] == "true"
    return frame


def time_limit_hours(
    limits: pd.DataFrame | Iterable[tuple[str | None, str | None, int]], category: str, risk_colour: str
) -> int:
    """The time limit for a case: the most specific matching row of ``limits`` (a frame of the
    table's columns, or its rows as ``(category, risk_colour, limit_hours)``) wins.

    Specificity: category and colour, then category alone, then colour alone, then the default.
    """
    if isinstance(limits, pd.DataFrame):
        limits = limits[["category", "risk_colour", "limit_hours"]].itertuples(index=False, name=None)
    table: dict[tuple[str | None, str | None], int] = {}
    for row_category, row_colour, hours in limits:
        table.setdefault((row_category, row_colour), hours)  # the first of equal rows, as the table reads
    for key in ((category, risk_colour), (category, None), (None, risk_colour), (None, None)):
        if key in table:
            return int(table[key])
    raise LookupError("the time-limit table has no default row (category and colour both empty)")
