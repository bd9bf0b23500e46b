"""The default rules a county starts from, kept as CSV data beside this module.

They seed the database's rule tables (``geo-service db migrate`` then ``demo load``); from then on
the tables are the truth and an administrator changes them there, not here.
"""

from __future__ import annotations

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


def time_limit_hours(limits: pd.DataFrame, category: str, risk_colour: str) -> int:
    """The time limit for a case: the most specific matching row of ``limits`` wins.

    Specificity: category and colour, then category alone, then colour alone, then the default.
    """
    for want_category, want_colour in (
        (category, risk_colour),
        (category, None),
        (None, risk_colour),
        (None, None),
    ):
        rows = limits[
            (limits["category"].isna() if want_category is None else limits["category"] == want_category)
            & (limits["risk_colour"].isna() if want_colour is None else limits["risk_colour"] == want_colour)
        ]
        if len(rows):
            return int(rows["limit_hours"].iloc[0])
    raise LookupError("the time-limit table has no default row (category and colour both empty)")
