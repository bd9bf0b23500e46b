"""Who answers for many places at once: the responsibility rules resolved in one query for every
place of a batch, and each place's cases sent up a tier while every post at theirs is vacant.

``geo_service.cases.responsibility.responsible`` answers for one place per query; a file of a
million incidents touches thousands of places (a city: about 10,000 grids times three risk
colours), and one query per place cost more than writing the cases. The rule is the same
statement (``responsibility.RESOLVE``), asked of all the places at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases.responsibility import RESOLVE, Responsible, resolve_params, unit_chain
from geo_service.db.prepared import execute_prepared
from geo_service.vocabulary import TIERS

# The columns that make a place: where a case lies and its colour (the name only for its note).
PLACE = ["grid_code", "grid_name", "village_code", "town_code", "county_code", "risk_colour"]
# Up to this many places (a report, a small batch) are resolved by the statement prepared once
# per connection; more, by the statement planned for the batch's size.
FEW_PLACES = 4


@dataclass(frozen=True)
class Resolved:
    """What binding gives the cases of each place (numbered as the rows of the places asked
    for): the tier they end at, the people named at that tier, and the rows bound (every tier
    from the village up to that one, vacancies included, in the order ``bind`` writes them)."""

    tiers: list[str]
    people: dict[int, list[Responsible]]
    bound: pd.DataFrame  # place, tier, position, role, officer_id, unit_code


def resolve_places(connection: Connection, places: pd.DataFrame, day: date) -> Resolved:
    """For each row of ``places`` (the columns of ``PLACE``), the people its cases are bound to on
    the county's ``day``, as ``geo_service.cases.binding.bind_up`` binds them from the village
    tier: the next tier up while every post of a tier is vacant, up to the county."""
    if places.empty:
        return Resolved([], {}, pd.DataFrame(columns=["place", "tier", "position", "role", "officer_id", "unit_code"]))
    asked = [
        (unit_chain(row.grid_code, row.village_code, row.town_code, row.county_code), row.risk_colour)
        for row in places[PLACE].itertuples(index=False)
    ]
    # Planning costs more than running for a few places; a prepared plan suits only a few.
    if len(asked) <= FEW_PLACES:
        result = execute_prepared(connection, RESOLVE, resolve_params(asked, day))
    else:
        result = connection.execute(text(RESOLVE), resolve_params(asked, day))
    found = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    found["officer_id"] = found["officer_id"].astype("Int64")
    for column in ("officer_code", "name", "phone", "unit_code"):  # a vacancy's are None, as one place's are
        found[column] = found[column].astype(object).where(found[column].notna(), None)
    # Set-wise (a city has tens of thousands of places): a place's cases stop at the first tier
    # where someone holds a post, or at the county when no one does.
    level = found["tier"].map({tier: n for n, tier in enumerate(TIERS)}).to_numpy()
    held = found.assign(level=level)[found["officer_code"].notna().to_numpy()].groupby("place")["level"].min()
    final = held.reindex(range(len(places))).fillna(len(TIERS) - 1).astype(int).to_numpy()
    own = final[found["place"].to_numpy()]
    bound = found[level <= own]
    people: dict[int, list[Responsible]] = {place: [] for place in range(len(places))}
    for row in found[level == own].itertuples(index=False):
        people[row.place].append(
            Responsible(
                tier=row.tier,
                position=row.position,
                role=row.role,
                role_name=row.name_zh,
                core=row.core,
                officer_code=row.officer_code,
                name=row.name,
                phone=row.phone,
                unit_code=row.unit_code,
            )
        )
    columns = ["place", "tier", "position", "role", "officer_id", "unit_code"]
    return Resolved([TIERS[f] for f in final], people, bound[columns].reset_index(drop=True))
