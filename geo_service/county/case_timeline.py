"""The timeline of an imported case: a step at each time the file gives, by the actor ``import``."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

ACTOR = "import"  # who the timeline says took the imported steps


def timeline_steps(written: pd.DataFrame, now: datetime, path: str) -> pd.DataFrame:
    """Each case's timeline at its own times: report, dispatch, resolve, close (or reject, merge);
    steps whose time the file does not give (accept, start, reopen) at the import."""
    note = "imported from " + path + " row " + written["_row"].astype(str)
    status = written["status"]
    dispatched = written["dispatched_at"].notna()
    resolved = written["resolved_at"].notna() & status.isin(["resolved", "closed", "reopened"])
    closed = written["closed_at"].notna() & status.isin(["closed", "reopened"])
    last = np.select([closed, resolved, dispatched], ["closed", "resolved", "dispatched"], "reported")
    ended = written["closed_at"].fillna(written["resolved_at"]).fillna(written["dispatched_at"])
    ended = ended.fillna(written["reported_at"])
    later = {
        "accepted": "accept",
        "in_progress": "start",
        "reopened": "reopen",
        "rejected": "reject",
        "merged": "merge",
    }
    at_import = status.isin(["accepted", "in_progress", "reopened"])
    steps = [
        ("report", None, "reported", written["reported_at"], np.ones(len(written), dtype=bool), note),
        ("dispatch", "reported", "dispatched", written["dispatched_at"], dispatched.to_numpy(), note),
        ("resolve", "dispatched", "resolved", written["resolved_at"], resolved.to_numpy(), note),
        ("close", "resolved", "closed", written["closed_at"], closed.to_numpy(), note),
        (
            status.map(later),
            last,
            status,
            ended.where(~at_import, pd.Timestamp(now)),
            status.isin(later).to_numpy(),
            note.where(~at_import, note + "; the file gives no time for this step"),
        ),
    ]
    frames = []
    for action, before, after, at, mask, says in steps:
        part = pd.DataFrame(
            {
                "incident_id": written["id"],
                "at": at,
                "actor": ACTOR,
                "action": action,
                "from_status": before,
                "to_status": after,
                "note": says,
                "data": None,
            }
        )[mask]
        if isinstance(action, str) and action == "close":
            part["data"] = [{"satisfaction": int(s)} if pd.notna(s) else None for s in written["satisfaction"][mask]]
        frames.append(part)
    return pd.concat(frames, ignore_index=True)
