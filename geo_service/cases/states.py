"""The states of a case and the steps between them: the data of the state machine
(``geo_service.cases.steps`` carries the steps out)."""

from __future__ import annotations

from dataclasses import dataclass

# Every state a case can be in, in the loop's order.
STATUSES: tuple[str, ...] = (
    "reported",
    "dispatched",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "rejected",
    "merged",
    "reopened",
)
OPEN = frozenset({"reported", "dispatched", "accepted", "in_progress", "reopened"})
OPEN_STATUSES: tuple[str, ...] = tuple(s for s in STATUSES if s in OPEN)  # in the loop's order


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str


TRANSITIONS: dict[str, Transition] = {
    "dispatch": Transition(frozenset({"reported", "reopened"}), "dispatched"),
    "accept": Transition(frozenset({"dispatched"}), "accepted"),
    "start": Transition(frozenset({"accepted"}), "in_progress"),
    "resolve": Transition(frozenset({"accepted", "in_progress"}), "resolved"),
    "close": Transition(frozenset({"resolved"}), "closed"),
    "reject": Transition(frozenset({"reported", "dispatched"}), "rejected"),
    "merge": Transition(OPEN, "merged"),
    "reopen": Transition(frozenset({"resolved", "closed"}), "reopened"),
}


# Steps that leave the state as it is: urging (催办) the people bound to a case that is being
# handled, and escalating (提级) it to the town's, then the county's, people.
# A case being handled may also ask the level above for more time, which that level decides.
HANDLING = frozenset({"dispatched", "accepted", "in_progress"})
IN_PLACE: dict[str, frozenset[str]] = {
    "urge": HANDLING,
    "escalate": HANDLING,
    "request_extension": HANDLING,
    "decide_extension": HANDLING,
}

# Records put on an open case without moving it along the loop: the dispatcher's call to one of
# the people bound to it (一键拨号, then "called"), and a change of its risk colour with the reason
# (which may bring other people and another deadline). They are not among a case's
# ``allowed_actions``, the loop's steps, which are what a refused step's 409 names.
RECORDS: dict[str, frozenset[str]] = {
    "call": OPEN,
    "set_risk": OPEN,
}
ACTIONS: tuple[str, ...] = (*TRANSITIONS, *IN_PLACE, *RECORDS)
assert {s for t in TRANSITIONS.values() for s in (*t.sources, t.target)} <= set(STATUSES)


def allowed_actions(status: str) -> list[str]:
    """The actions that may be taken on a case in ``status``, in the loop's order."""
    moves = [action for action, step in TRANSITIONS.items() if status in step.sources]
    return moves + [action for action, states in IN_PLACE.items() if status in states]


def sources_of(action: str) -> frozenset[str]:
    """The states from which ``action`` (a known one) may be taken."""
    if action in TRANSITIONS:
        return TRANSITIONS[action].sources
    return IN_PLACE.get(action) or RECORDS[action]
