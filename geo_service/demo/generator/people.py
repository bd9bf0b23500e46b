"""Officers and the units they answer for, with a few vacancies and mid-year replacements."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import names as nm
from .units import COUNTY_CODE, Units

N_VACANT_GRIDS = 2
N_BUSY_GRIDS = 8  # grids with a second worker: 806 - 2 + 8 = 812 grid workers
N_REPLACED_WORKERS = 6
N_VACANT_SECRETARIES = 3


def _day(rng, start: date, end: date, n=None):
    span = (end - start).days
    k = rng.integers(0, span + 1, n)
    if n is None:
        return start + timedelta(days=int(k))
    return [start + timedelta(days=int(d)) for d in k]


def _chunks(rng, items, lo, hi):
    """Consecutive runs of ``items`` of ``lo``-``hi`` each (the last run may be merged)."""
    out = []
    i = 0
    while i < len(items):
        k = int(rng.integers(lo, hi + 1))
        run = items[i : i + k]
        if len(run) < lo and out:
            out[-1] = out[-1] + run
        else:
            out.append(run)
        i += k
    return out


def build_people(rng: np.random.Generator, units: Units, period_start: date, period_end: date):
    rows = []  # assignments: officer index, role, unit_code, valid_from, valid_to
    n_officers = 0
    first = date(2024, 1, 1)
    last_start = period_start - timedelta(days=20)

    def new_officer():
        nonlocal n_officers
        n_officers += 1
        return n_officers - 1

    def assign(officer, role, unit, start=None, end=None):
        rows.append((officer, role, unit, start or _day(rng, first, last_start), end))

    vacancies = []
    grids = units.grids[units.grids["level"] == 1].sort_values("code").reset_index(drop=True)
    codes = grids["code"].to_numpy()
    rural = np.flatnonzero(grids["kind"].to_numpy() == "rural")
    urban = np.flatnonzero(grids["kind"].to_numpy() == "urban")
    vacant = np.sort(rng.choice(rural, N_VACANT_GRIDS, replace=False))
    busy_pool = urban[np.argsort(-grids["population"].to_numpy()[urban], kind="stable")[:40]]
    busy = set(rng.choice(busy_pool, N_BUSY_GRIDS, replace=False).tolist())
    replace_pool = np.setdiff1d(np.arange(len(codes)), np.concatenate([vacant, list(busy)]))
    replaced = set(rng.choice(replace_pool, N_REPLACED_WORKERS, replace=False).tolist())
    span = (period_end - period_start).days
    for i, code in enumerate(codes):
        if i in vacant:
            left = period_start + timedelta(days=int(rng.integers(span // 2, span - 30)))
            assign(new_officer(), "grid_worker", code, end=left)
            vacancies.append(
                {
                    "role": "grid_worker",
                    "unit_code": code,
                    "level": "grid",
                    "since": (left + timedelta(days=1)).isoformat(),
                    "note": "网格员离职后尚未补员 (the grid worker left; no successor yet)",
                }
            )
            continue
        if i in replaced:
            change = period_start + timedelta(days=int(rng.integers(60, span - 60)))
            assign(new_officer(), "grid_worker", code, end=change)
            assign(new_officer(), "grid_worker", code, start=change + timedelta(days=1))
        else:
            assign(new_officer(), "grid_worker", code)
        if i in busy:
            assign(new_officer(), "grid_worker", code, start=_day(rng, date(2025, 1, 1), last_start))

    villages = units.villages.sort_values("code").reset_index(drop=True)
    vcodes = villages["code"].to_numpy()
    no_secretary = set(rng.choice(len(vcodes), N_VACANT_SECRETARIES, replace=False).tolist())
    for i, code in enumerate(vcodes):
        assign(new_officer(), "grid_leader", code)
        if i in no_secretary:
            left = period_start + timedelta(days=int(rng.integers(90, span - 20)))
            assign(new_officer(), "village_party_secretary", code, end=left)
            vacancies.append(
                {
                    "role": "village_party_secretary",
                    "unit_code": code,
                    "level": "village",
                    "since": (left + timedelta(days=1)).isoformat(),
                    "note": "书记调任后空缺 (the secretary moved on; post vacant)",
                }
            )
        else:
            assign(new_officer(), "village_party_secretary", code)
        assign(new_officer(), "mediation_committee", code)
        assign(new_officer(), "village_committee_member", code)
        assign(new_officer(), "village_committee_member", code)
    towns = units.towns.sort_values("code").reset_index(drop=True)
    for tcode in towns["code"]:
        in_town = [c for c in vcodes if c[:9] == tcode[:9]]
        for run in _chunks(rng, in_town, 2, 3):
            o = new_officer()
            start = _day(rng, first, last_start)
            for c in run:
                assign(o, "village_cadre", c, start=start)
        for run in _chunks(rng, in_town, 2, 4):
            o = new_officer()
            start = _day(rng, first, last_start)
            for c in run:
                assign(o, "community_police", c, start=start)
        assign(new_officer(), "general_grid_leader", tcode)
        assign(new_officer(), "town_party_secretary", tcode)
        assign(new_officer(), "town_department_leader", tcode)
        assign(new_officer(), "town_department_leader", tcode)
        assign(new_officer(), "town_command_centre", tcode)
    for run in _chunks(rng, list(towns["code"]), 3, 4):
        o = new_officer()
        start = _day(rng, first, last_start)
        for c in run:
            assign(o, "county_leader", c, start=start)
    assign(new_officer(), "county_command_centre", COUNTY_CODE, start=first)

    # people
    female = rng.random(n_officers) < 0.38
    names, gender = nm.person_names(rng, n_officers, female)
    phones = nm.phones(rng, n_officers, unique=True)
    officers = pd.DataFrame(
        {
            "officer_code": [f"O{i + 1:06d}" for i in range(n_officers)],
            "name": names,
            "phone": phones,
            "gender": gender,
        }
    )
    a = pd.DataFrame(rows, columns=["officer", "role", "unit_code", "valid_from", "valid_to"])
    assignments = pd.DataFrame(
        {
            "officer_code": officers["officer_code"].to_numpy()[a["officer"].to_numpy()],
            "role": a["role"],
            "unit_code": a["unit_code"],
            "valid_from": a["valid_from"],
            "valid_to": a["valid_to"].astype(object).where(a["valid_to"].notna(), None),
        }
    )
    return officers, assignments, vacancies
