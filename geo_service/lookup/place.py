"""A place: a grid with its village, town and county, as a lookup answers it."""

from __future__ import annotations

from dataclasses import dataclass

from geo_service.cases.responsibility import unit_chain


@dataclass(frozen=True)
class Place:
    """A grid and its village, town and county; ``distance_m`` is 0 for the grid holding a
    point, else the point's distance to this, the nearest grid."""

    grid_code: str
    grid_name: str
    grid_level: int
    grid_kind: str
    village_code: str
    village_name: str
    town_code: str
    town_name: str
    county_code: str
    county_name: str
    version_id: int
    distance_m: float

    @property
    def units(self) -> list[str]:
        return unit_chain(self.grid_code, self.village_code, self.town_code, self.county_code)
