"""The wall screen in the jurisdiction matrix: a town's users see only their own part of the county
on it: units, rankings, red cases and the map's incidents."""

from __future__ import annotations

AT = "2026-11-15T20:00:00"  # the demo's last day, late


def probe_wall(client, scope, other):
    from ..test_jurisdiction_matrix import inside, role_refused

    answer = client.get("/wall/summary", params={"at": AT})
    if role_refused(answer):
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["jurisdiction"]["code"] == scope.code
    units = {u["code"] for u in body["overdue_by_unit"]["units"]}
    for metric in ("closed_rate", "handled_rate", "overdue_rate"):
        units |= {row["code"] for row in body["rankings"][metric]}
    assert units and units <= scope.villages, units - scope.villages
    cases = body["red_cases"]["cases"]
    assert all(scope.holds_incident(c["town_code"], c["village_code"], c["grid_code"]) for c in cases)
    features = body["recent"]["features"]
    if scope.level == "town":
        assert features, "the demo has incidents that day in every town"
    assert all(inside(scope, f["geometry"]) for f in features)
    assert other.incident not in {c["id"] for c in cases} | {f["id"] for f in features}


PROBES = {"wall screen": (probe_wall, ["GET /wall/summary"])}
