"""Camera coverage: the set-based test agrees with the dispatcher's own camera lookup, incident by
incident; hot spots carry their coverage and the gaps are those no camera sees."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from geo_service.analysis import coverage_by_unit, hotspot_coverage, incident_coverage, incident_filter, make_span
from geo_service.lookup.cameras import cameras_seeing
from geo_service.settings import Settings

# The county's zone and metric projection, as the app over these tests reads them (a face builds settings).
PLACE = Settings().place
ZONE = PLACE.timezone

DAY = ("2026-06-03", "2026-06-04")


def _where(engine, span, categories=None):
    with engine.connect() as connection:
        return incident_filter(connection, make_span(*span, zone=ZONE), categories)


def test_every_incident_of_a_day_is_seen_as_the_dispatcher_would_see_it(engine):
    where = _where(engine, DAY)
    with engine.connect() as connection:
        rows = connection.execute(
            text(f"""SELECT i.grid_code, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat
                                             FROM incidents i WHERE {where.sql("i")}"""),
            where.params(),
        ).all()
        seen_one_by_one = pd.Series(
            [any(v.sees for v in cameras_seeing(connection, r.lon, r.lat, limit=50)) for r in rows],
            index=[r.grid_code for r in rows],
        )
    by_grid = coverage_by_unit(engine, where, "grid", place=PLACE)
    assert by_grid["incidents"].sum() == len(rows) > 300
    assert by_grid["seen"].sum() == seen_one_by_one.sum() > 0
    expected = seen_one_by_one.groupby(level=0).sum()
    assert (by_grid.loc[expected.index, "seen"] == expected).all()


def test_online_only_sees_no_more(engine):
    where = _where(engine, ("2026-06-01", "2026-07-01"))
    every = incident_coverage(engine, where, place=PLACE)
    online = incident_coverage(engine, where, online_only=True, place=PLACE)
    assert online["incidents"] == every["incidents"]
    assert 0 < online["seen"] <= every["seen"] < every["incidents"]
    with engine.connect() as connection:
        offline = connection.execute(text("SELECT count(*) FROM cameras WHERE status <> 'online'")).scalar()
    assert offline > 0 and online["seen"] < every["seen"]


def test_hotspot_coverage_and_gaps(engine):
    where = _where(engine, ("2025-11-17", "2026-11-16"), ["security_hazard"])
    hot = hotspot_coverage(engine, where, "grid", confidence=0.95, place=PLACE)
    assert len(hot) > 0 and hot["class"].str.startswith("hot").all()
    assert (hot["incidents"] == hot["count"]).all()
    assert ((hot["share_seen"] >= 0) & (hot["share_seen"] <= 1)).all()
    assert (hot["unseen"] == (hot["seen"] == 0)).all()
    assert hot["share_seen"].is_monotonic_increasing  # the least covered first
    county = hot.attrs["county"]
    whole = incident_coverage(engine, where, place=PLACE)
    assert {k: whole[k] for k in county} == county and county["incidents"] > hot["incidents"].sum()
