"""Who answers for many places at once: the responsibility rules resolved in one query for every
place of a batch, and each place's cases sent up a tier while every post at theirs is vacant.

``geo_service.cases.responsibility.responsible`` answers for one place per query; a file of a
million incidents touches thousands of places (a city: about 10,000 grids times three risk
colours), and one query per place cost more than writing the cases. The rule is the same
statement (``responsibility.RESOLVE``), asked of all the places at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.cases.responsibility import RESOLVE, Responsible, resolve_params, unit_chain
from geo_service.db.prepared import execute_prepared
from geo_service.vocabulary import TIERS


class Place(NamedTuple):
    """Where a case lies and its colour: what makes its people (the name only for its note)."""

    grid_code: str
    grid_name: str
    village_code: str
    town_code: str
    county_code: str
    risk_colour: str


# A case's columns that make its place.
PLACE = list(Place._fields)
# Up to this many places (a report, a small batch) are resolved by the statement prepared once
# per connection; more, by the statement planned for the batch's size.
FEW_PLACES = 4


class Bound(NamedTuple):
    """One post bound to the cases of a place (a vacancy's ``officer_id`` and ``unit_code`` None)."""

    place: int
    tier: str
    position: int
    role: str
    officer_id: int | None
    unit_code: str | None


@dataclass(frozen=True)
class Resolved:
    """What binding gives the cases of each place (numbered as the rows of the places asked
    for): the tier they end at, the people named at that tier, and the posts bound (every tier
    from the village up to that one, vacancies included, in the order ``bind`` writes them)."""

    tiers: list[str]
    people: dict[int, list[Responsible]]
    bound: list[Bound]


def resolve_places(connection: Connection, places: Sequence[Place], day: date) -> Resolved:
    """For each of ``places``, the people its cases are bound to on the county's ``day``, as
    ``geo_service.cases.binding.bind_up`` binds them from the village tier: the next tier up while
    every post of a tier is vacant, up to the county."""
    if not places:
        return Resolved([], {}, [])
    asked = [
        (unit_chain(place.grid_code, place.village_code, place.town_code, place.county_code), place.risk_colour)
        for place in places
    ]
    # Planning costs more than running for a few places; a prepared plan suits only a few.
    if len(asked) <= FEW_PLACES:
        result = execute_prepared(connection, RESOLVE, resolve_params(asked, day))
    else:
        result = connection.execute(text(RESOLVE), resolve_params(asked, day))
    # In plain Python, row by row: a report's place gives about ten rows, a city's file tens of
    # thousands, and a frame's fixed cost per step was most of a report's recording.
    found = result.fetchall()
    level = {tier: n for n, tier in enumerate(TIERS)}
    levels = [level[row.tier] for row in found]
    # A place's cases stop at the first tier where someone holds a post, or at the county when
    # no one does.
    final = [len(TIERS) - 1] * len(places)
    for row, at in zip(found, levels, strict=True):
        if row.officer_code is not None and at < final[row.place]:
            final[row.place] = at
    people: dict[int, list[Responsible]] = {place: [] for place in range(len(places))}
    bound: list[Bound] = []
    for row, at in zip(found, levels, strict=True):
        if at > final[row.place]:
            continue
        bound.append(Bound(row.place, row.tier, row.position, row.role, row.officer_id, row.unit_code))
        if at == final[row.place]:
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
    return Resolved([TIERS[f] for f in final], people, bound)
