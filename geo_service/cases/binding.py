"""Who a case is bound to: the people the responsibility rules name for its place, colour and
tier (``geo_service.cases.responsibility``), written set-wise for one case or a million.

A case is never left with no one: where every post of its tier is vacant it goes to the next
tier's people, village to town to county (``bind_up``), and its timeline says why.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases.responsibility import Responsible, responsible, unit_chain
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import NO_COUNTY, generic_key_checks
from geo_service.i18n import t
from geo_service.progress import Reporter, Silent
from geo_service.times import local_day
from geo_service.vocabulary import TIERS


def bind(
    connection: Connection,
    cases: pd.DataFrame,
    tier: str,
    now: datetime,
    zone: str,
    *,
    release: bool = False,
    reporter: Reporter | None = None,
) -> dict[int, list[Responsible]]:
    """Bind each case to the people the rules name for its place, colour and ``tier`` on the
    county's day of ``now`` (vacancies recorded as such), resolved once per place and colour.

    ``cases`` has the columns ``id``, ``grid_code``, ``village_code``, ``town_code``,
    ``county_code`` and ``risk_colour``. With ``release``, whoever was bound at ``tier`` before is
    released first. Returns the people bound to each case.
    """
    if cases.empty:
        return {}
    day = local_day(now, zone)
    places = ["grid_code", "village_code", "town_code", "county_code", "risk_colour"]
    people = {
        place: responsible(connection, unit_chain(*place[:4]), day, place[4], tier)[tier]
        for place in cases[places].drop_duplicates().itertuples(index=False, name=None)
    }
    bound = {int(row[0]): people[row[1:]] for row in cases[["id", *places]].itertuples(index=False, name=None)}
    county = dict(zip(cases["id"].astype(int), cases["county_code"].fillna(NO_COUNTY)))  # as the incident has it
    if release:
        connection.execute(
            text("""
            UPDATE incident_officers SET released_at = :now
             WHERE incident_id = ANY(:ids) AND tier = :tier AND released_at IS NULL
        """),
            {"ids": list(bound), "tier": tier, "now": now},
        )
    rows = pd.DataFrame(
        [
            (incident, county[incident], tier, p.position, p.role, p.officer_code, p.unit_code, now)
            for incident, found in bound.items()
            for p in found
        ],
        columns=["incident_id", "county_code", "tier", "position", "role", "officer_code", "unit_code", "bound_at"],
    )
    codes = [c for c in rows["officer_code"].dropna().unique()]
    officer_ids = dict(
        connection.execute(text("SELECT code, id FROM officers WHERE code = ANY(:codes)"), {"codes": codes}).all()
    )
    rows["officer_id"] = rows["officer_code"].map(officer_ids).astype("Int64")
    with generic_key_checks(connection):
        copy_frame(
            connection.connection.cursor(),
            "incident_officers",
            rows,
            ["incident_id", "county_code", "tier", "position", "role", "officer_id", "unit_code", "bound_at"],
            advance=(reporter or Silent()).task(t("binding officers"), len(rows)),
        )
    return bound


def nobody(people: list[Responsible]) -> bool:
    """Every post named is vacant: no one would hear of the case."""
    return not any(p.officer_code for p in people)


def bind_up(
    connection: Connection,
    cases: pd.DataFrame,
    tier: str,
    now: datetime,
    zone: str,
    *,
    release: bool = False,
    reporter: Reporter | None = None,
) -> tuple[dict[int, list[Responsible]], dict[int, str]]:
    """Bind each case at ``tier``, and a case with no one there at the next tier up, and so on to
    the county (the vacancies below stay on record). Returns the people bound to each case at the
    tier it ends at, and that tier (where a case with no one even at the county stays)."""
    bound = bind(connection, cases, tier, now, zone, release=release, reporter=reporter)
    tiers = dict.fromkeys(bound, tier)
    waiting = [case for case, people in bound.items() if nobody(people)]
    while waiting and tier != TIERS[-1]:
        tier = TIERS[TIERS.index(tier) + 1]
        above = bind(connection, cases[cases["id"].astype(int).isin(waiting)], tier, now, zone, release=release)
        bound.update(above)
        tiers.update(dict.fromkeys(above, tier))
        waiting = [case for case, people in above.items() if nobody(people)]
    return bound, tiers
