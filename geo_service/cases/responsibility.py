"""Who answers for a case at a place, and in what time: the responsibility rules (data) resolved
to people, and the time-limit rules to the time a case is allowed.

For each rule that applies to the case's tier and risk colour, in the rules' order, the officers
holding the rule's role on that day at the nearest unit that encloses the place: its grid, the
grid's parents, its village, town, county. A role nobody holds is returned as a vacancy, never
dropped. The tiers above the case's own say through whom it escalates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo_service.db.changes import Kept, feed_for
from geo_service.db.prepared import execute_prepared
from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.rules import time_limit_hours
from geo_service.vocabulary import RISK_COLOURS, TIERS

# The rule, for one place or many at once (a batch's thousands): each place's rules by its colour,
# and for each rule the holders of its role at the nearest of the place's units (depth 1 is its
# own, finest unit); all holders at that unit are named (a busy grid may have two workers), and a
# role nobody holds is kept as a vacancy.
RESOLVE = """
    WITH places AS (
        SELECT * FROM unnest(CAST(:places AS int[]), CAST(:colours AS text[])) AS p(place, colour)
    ),
    units AS (
        SELECT * FROM unnest(CAST(:unit_places AS int[]), CAST(:units AS text[]),
                             CAST(:depths AS int[])) AS u(place, unit_code, depth)
    ),
    rules AS (
        SELECT p.place, r.tier, r.position, r.role, r.core, ro.name_zh
          FROM places p
          JOIN responsibility_rules r ON r.risk_colour IS NULL OR r.risk_colour = p.colour
          JOIN roles ro ON ro.code = r.role
    ),
    holders AS (
        SELECT r.place, r.tier, r.position, r.role, a.officer_id, a.unit_code,
               rank() OVER (PARTITION BY r.place, r.tier, r.position, r.role ORDER BY u.depth) AS nearness
          FROM rules r
          JOIN units u ON u.place = r.place
          JOIN officer_assignments a ON a.role = r.role AND a.unit_code = u.unit_code
         WHERE a.unit_code = ANY(CAST(:units AS text[]))  -- the index on unit_code, whatever the plan
           AND a.valid_from <= :day AND (a.valid_to IS NULL OR a.valid_to >= :day)
    )
    SELECT r.place, r.tier, r.position, r.role, r.core, r.name_zh, o.id AS officer_id,
           o.code AS officer_code, o.name, o.phone, h.unit_code
      FROM rules r
      LEFT JOIN holders h ON h.place = r.place AND h.tier = r.tier AND h.position = r.position
                         AND h.role = r.role AND h.nearness = 1
      LEFT JOIN officers o ON o.id = h.officer_id
     ORDER BY r.place, array_position(CAST(:tier_order AS text[]), r.tier), r.position, r.role, o.code
"""


def resolve_params(places: list[tuple[list[str], str]], day: date) -> dict:
    """:data:`RESOLVE`'s parameters for ``places``, each its units from the finest up and its colour."""
    unit_places, units, depths = [], [], []
    for place, (chain, _) in enumerate(places):
        unit_places += [place] * len(chain)
        units += chain
        depths += list(range(1, len(chain) + 1))
    return {
        "places": list(range(len(places))),
        "colours": [colour for _, colour in places],
        "unit_places": unit_places,
        "units": units,
        "depths": depths,
        "day": day,
        "tier_order": list(TIERS),
    }


@dataclass(frozen=True)
class Responsible:
    tier: str
    position: int
    role: str
    role_name: str
    core: bool
    officer_code: str | None
    name: str | None
    phone: str | None
    unit_code: str | None

    @property
    def vacant(self) -> bool:
        return self.officer_code is None

    def to_dict(self) -> dict:
        return {
            "position": self.position,
            "role": self.role,
            "role_name": self.role_name,
            "core": self.core,
            "vacant": self.vacant,
            "officer_code": self.officer_code,
            "name": self.name,
            "phone": self.phone,
            "unit_code": self.unit_code,
        }


def check_colour(risk_colour: str) -> str:
    if risk_colour not in RISK_COLOURS:
        raise InvalidInput(
            t(
                "risk colour {risk_colour!r} is not one of {RISK_COLOURS}",
                risk_colour=risk_colour,
                RISK_COLOURS=", ".join(RISK_COLOURS),
            ),
            field="risk_colour",
        )
    return risk_colour


def responsible(
    connection: Connection,
    unit_codes: list[str],
    day: date,
    risk_colour: str = "blue",
    tier: str = "village",
) -> dict[str, list[Responsible]]:
    """People answering for a place, by tier: the case's own tier first, then those above it.

    Parameters
    ----------
    unit_codes
        The place's units from the finest up: grid code(s), village, town, county.
    day
        The county's calendar day: responsibilities are held from and to days.
    risk_colour, tier
        The case's colour and the tier it is handled at (village, town or county).
    """
    check_colour(risk_colour)
    if tier not in TIERS:
        raise InvalidInput(t("tier {tier!r} is not one of {TIERS}", tier=tier, TIERS=", ".join(TIERS)), field="tier")
    tiers = list(TIERS[TIERS.index(tier) :])
    rows = execute_prepared(connection, RESOLVE, resolve_params([(unit_codes, risk_colour)], day)).mappings()
    by_tier: dict[str, list[Responsible]] = {t: [] for t in tiers}
    for row in rows:
        if row["tier"] not in by_tier:  # a tier below the case's
            continue
        by_tier[row["tier"]].append(
            Responsible(
                tier=row["tier"],
                position=row["position"],
                role=row["role"],
                role_name=row["name_zh"],
                core=row["core"],
                officer_code=row["officer_code"],
                name=row["name"],
                phone=row["phone"],
                unit_code=row["unit_code"],
            )
        )
    return by_tier


def unit_chain(grid_code: str | None, village_code: str, town_code: str, county_code: str) -> list[str]:
    """A place's units from the finest up: the grid and each parent grid, then the admin units.

    Grid codes nest by prefix (DB11/T 2157-2023): a sub-grid's code extends its parent's by 3 digits.
    """
    chain = []
    if grid_code:
        chain = [grid_code[:n] for n in range(len(grid_code), 14, -3)]
    return chain + [village_code, town_code, county_code]


def time_limits(connection: Connection, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], timedelta]:
    """The time allowed from dispatch for each (category, risk colour), from the time-limit rules
    in the database, read once for all of them."""
    result = connection.execute(text("SELECT category, risk_colour, limit_hours FROM time_limit_rules"))
    limits = result.all()
    return {pair: timedelta(hours=time_limit_hours(limits, *pair)) for pair in set(pairs)}


def time_limit(connection: Connection, category: str, risk_colour: str) -> timedelta:
    """The time allowed from dispatch for one case (:func:`time_limits`)."""
    return time_limits(connection, [(category, risk_colour)])[(category, risk_colour)]


_kept = Kept("people", size=50_000)  # places x colours x tiers of a city's lookups


def responsible_kept(
    connection: Connection, unit_codes: list[str], day: date, risk_colour: str = "blue", tier: str = "village"
) -> dict[str, list[Responsible]]:
    """:func:`responsible`, kept by the process until the people, their posts or the rules change
    (heard on the change feed, ``geo_service.db.changes``) or the day turns: for lookups, which ask
    the same few thousand places over and over. Not for a transaction that has itself just changed
    the people (its change is heard only once committed)."""
    feed = feed_for(connection.engine)
    key = (feed.key, tuple(unit_codes), day, risk_colour, tier)
    found, generation = _kept.get(feed, key)
    if found is None:
        found = responsible(connection, unit_codes, day, risk_colour, tier)
        _kept.put(key, generation, found)
    return {tier_: list(people) for tier_, people in found.items()}
