"""The jurisdiction matrix's probes of the dispatcher's inbox (``geo_service.api.inbox``): the
buckets, their counts, the places offered, the changes a page polls for and one urge over a
selection hold nothing of another town, even asked for by its place or its case's number."""

from __future__ import annotations

from sqlalchemy import text

BUCKETS = ("new", "dispatched", "overdue", "due_soon")
OPEN = "('reported', 'dispatched', 'accepted', 'in_progress', 'reopened')"


def _codes(item: dict) -> tuple:
    return tuple((item[k] or {}).get("code") for k in ("town", "village", "grid"))


def _open_case_elsewhere(client, town: str) -> int:
    """An open case of the other town (read, never written: the matrix shares its database)."""
    with client.app.state.engine.connect() as connection:
        return connection.execute(
            text(f"SELECT id FROM incidents WHERE town_code = :t AND status IN {OPEN} ORDER BY id LIMIT 1"),
            {"t": town},
        ).scalar_one()


def probe_inbox(client, scope, other):
    from ..test_jurisdiction_matrix import role_refused

    first = client.get("/inbox", params={"limit": 200, "with_places": "true"})
    if role_refused(first):
        return
    assert first.status_code == 200, first.text
    body = first.json()
    assert all(scope.holds_incident(*_codes(i)) for i in body["items"])
    villages = {v["code"] for town in body["places"] for v in town["villages"]}
    assert villages <= scope.villages and {t["code"] for t in body["places"]} <= {scope.town}
    for bucket in BUCKETS:
        page = client.get("/inbox", params={"bucket": bucket, "limit": 200}).json()
        assert all(scope.holds_incident(*_codes(i)) for i in page["items"]), bucket
    theirs = _open_case_elsewhere(client, other.town)
    for params in ({"place": other.town}, {"place": other.grid}, {"q": str(theirs)}):
        assert client.get("/inbox", params=params).json()["counts"]["open"] == 0, params
    polled = client.get("/inbox/changes").json()
    assert theirs not in {i["id"] for i in polled["items"]}
    assert all(scope.holds_incident(*_codes(i)) for i in polled["items"])


def probe_bulk_urge(client, scope, other):
    from ..test_jurisdiction_matrix import role_refused

    theirs = _open_case_elsewhere(client, other.town)
    with client.app.state.engine.connect() as connection:
        before = connection.execute(text("SELECT urge_count FROM incidents WHERE id = :id"), {"id": theirs}).scalar()
    ids = list(dict.fromkeys([theirs, other.incident]))
    answer = client.post("/inbox/urge", json={"ids": ids})
    if role_refused(answer):
        return
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [(r["id"], r["ok"], r["status_code"]) for r in results] == [(i, False, 404) for i in ids]
    # Word for word what a case that does not exist is answered.
    assert results[0]["message"] == client.get(f"/incidents/{theirs}").json()["message"]
    with client.app.state.engine.connect() as connection:
        after = connection.execute(text("SELECT urge_count FROM incidents WHERE id = :id"), {"id": theirs}).scalar()
    assert after == before


PROBES = {
    "inbox": (probe_inbox, ["GET /inbox", "GET /inbox/changes"]),
    "bulk urge": (probe_bulk_urge, ["POST /inbox/urge"]),
}
