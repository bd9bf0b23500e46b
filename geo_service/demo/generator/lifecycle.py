"""The life of a case: which cases are rejected, merged or still open at the period's end, when
each is dispatched, accepted, started, resolved and closed (with each town's planned share of late
cases), the follow-up visit's satisfaction, and the event log of every step."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CLOSED_SHARE = 0.9553


@dataclass
class Lifecycle:
    """Where each case stands at the period's end and when it got there (seconds from the period
    start; NaN for steps not reached)."""

    status: np.ndarray
    self_handled: np.ndarray  # settled on the spot by the grid worker
    disp_at: np.ndarray
    res_at: np.ndarray
    close_at: np.ndarray
    satisfaction: pd.api.extensions.ExtensionArray  # Int64, NA where no follow-up visit reached
    sat: np.ndarray  # the drawn satisfaction 1-5 of every case
    visited: np.ndarray  # closed, and the follow-up visit reached the reporter
    late_rate: np.ndarray  # planned share of late dispatched cases, per town
    times: dict  # floored step times (and deadline) for the event log


def plan_lifecycle(rng, rep, src_name, colour, limit_h, town, n_towns, T_end) -> Lifecycle:
    """Statuses at the period's end, the planned timeline of every case, and its satisfaction.

    ``rep`` are report times in seconds from the period start, ``T_end`` the period's end there;
    ``limit_h`` each case's time limit in hours, ``town`` its town index.
    """
    n = len(rep)
    n_closed = int(round(CLOSED_SHARE * n))
    age = (T_end - rep) / 86400.0
    n_rej = int(round(0.0016 * n))
    n_mer = int(round(0.0026 * n))
    n_open = n - n_closed - n_rej - n_mer
    status = np.full(n, "closed", dtype=object)
    old = np.flatnonzero(age > 2)
    pick = rng.choice(old, n_rej + n_mer, replace=False)
    status[pick[:n_rej]] = "rejected"
    status[pick[n_rej:]] = "merged"
    free = np.flatnonzero(status == "closed")
    key = np.log(np.exp(-age[free] / 9.0) + 0.004) + rng.gumbel(size=len(free))
    open_idx = free[np.argsort(-key, kind="stable")[:n_open]]
    is_open = np.zeros(n, bool)
    is_open[open_idx] = True

    # planned timeline, seconds from the period start
    self_handled = (src_name == "grid_app") & (rng.random(n) < 0.62) & (colour == 0)
    lognorm = lambda med, sig: med * np.exp(rng.normal(0, sig, n))
    d_disp = np.select(
        [self_handled, src_name == "grid_app", src_name == "video", src_name == "police_110"],
        [rng.uniform(30, 600, n), lognorm(2400, 0.8), lognorm(1500, 0.7), lognorm(1800, 0.8)],
        lognorm(6000, 0.9),
    )
    tod = rep % 86400
    night = ((tod < 7 * 3600) | (tod >= 22 * 3600)) & (src_name != "police_110") & ~self_handled
    next_morning = (rep // 86400 + (tod >= 22 * 3600)) * 86400 + 8 * 3600 + rng.uniform(0, 5400, n)
    disp = np.where(night, np.maximum(next_morning, rep + d_disp), rep + d_disp)
    acc = disp + np.where(self_handled, rng.uniform(5, 120, n), lognorm(1500, 0.9))
    start = acc + np.where(self_handled, rng.uniform(5, 300, n), lognorm(3600, 1.0))
    deadline = disp + limit_h * 3600
    late_rate = _town_late_rates(rng, n_towns)
    late = rng.random(n) < late_rate[town]
    late &= ~self_handled
    u = np.clip(rng.beta(1.4, 3.2, n), 0.01, 0.95)
    res = np.where(
        self_handled,
        start + rng.uniform(600, 3 * 3600, n),
        np.where(
            late,
            deadline + limit_h * 3600 * rng.exponential(0.25, n) + 600,
            np.maximum(disp + limit_h * 3600 * u, start + 600),
        ),
    )
    res = np.where(~late & ~self_handled, np.minimum(res, deadline - 60), res)
    res = np.maximum(res, start + 60)
    close = res + np.maximum(lognorm(20 * 3600, 0.8), 1800)

    # closed cases must be closed before the period ends: squeeze the recent ones
    closed = status == "closed"
    closed &= ~is_open
    over = closed & (close >= T_end - 60)
    f = (T_end - 60 - rep[over]) * rng.uniform(0.5, 0.95, over.sum()) / (close[over] - rep[over])
    for arr in (disp, acc, start, res, close):
        arr[over] = rep[over] + (arr[over] - rep[over]) * f
    deadline = disp + limit_h * 3600

    # open cases: the furthest state reached by the period's end
    stage_t = np.column_stack([disp, acc, start, res])
    reached = (stage_t < T_end).sum(1)
    stuck = reached == 4
    stuck_stage = rng.choice([1, 2, 3, 4], n, p=[0.12, 0.18, 0.45, 0.25])
    stage = np.where(stuck, stuck_stage, reached)
    open_state = np.array(["reported", "dispatched", "accepted", "in_progress", "resolved"], dtype=object)
    status[is_open] = open_state[stage[is_open]]
    status[closed] = "closed"

    has_disp = np.isin(status, ["dispatched", "accepted", "in_progress", "resolved", "closed"])
    has_acc = np.isin(status, ["accepted", "in_progress", "resolved", "closed"])
    has_start = np.isin(status, ["in_progress", "resolved", "closed"])
    has_res = np.isin(status, ["resolved", "closed"])
    has_close = status == "closed"
    nan = np.nan
    disp_at = np.where(has_disp, disp, nan)
    res_at = np.where(has_res, res, nan)
    close_at = np.where(has_close, close, nan)

    # satisfaction from the follow-up visit
    sat_p = np.array([0.02, 0.03, 0.08, 0.25, 0.62])
    sat = rng.choice(5, n, p=sat_p) + 1
    was_late = has_res & (res > deadline)
    sat = np.where(was_late, np.maximum(sat - rng.integers(0, 3, n), 1), sat)
    reached_visit = rng.random(n) > 0.07
    satisfaction = pd.array(np.where(has_close & reached_visit, sat, 0), dtype="Int64")
    satisfaction[~(has_close & reached_visit)] = pd.NA
    visited = has_close & reached_visit

    # floored step times for the event log
    times = dict(
        rep=np.floor(rep),
        disp=np.floor(disp_at),
        acc=np.floor(np.where(has_acc, acc, nan)),
        start=np.floor(np.where(has_start, start, nan)),
        res=np.floor(res_at),
        close=np.floor(close_at),
        deadline=np.floor(disp_at) + limit_h * 3600,
    )
    return Lifecycle(
        status=status,
        self_handled=self_handled,
        disp_at=disp_at,
        res_at=res_at,
        close_at=close_at,
        satisfaction=satisfaction,
        sat=sat,
        visited=visited,
        late_rate=late_rate,
        times=times,
    )


def _town_late_rates(rng, n_towns):
    """Share of dispatched (not on-the-spot) cases each town resolves late: mostly 8-20%, a few
    outliers; on-the-spot cases are never late, so about 7% of all closed cases are."""
    r = np.clip(rng.beta(8, 50, n_towns), 0.06, 0.22)
    order = rng.permutation(n_towns)
    r[order[:2]] = [0.32, 0.28]  # two towns notably late
    r[order[2:4]] = [0.04, 0.05]  # two notably punctual
    return r


def _events(rng, ext, status, src, colour, self_handled, t, sat, visited, T_end, to_dt):
    n = len(ext)
    handler = np.array(["grid_worker", "village_cadre", "town_department_leader"], dtype=object)[colour]
    reporter = np.where(
        src == "grid_app",
        "grid_worker",
        np.where(np.isin(src, ["video", "online_sentiment"]), "county_command_centre", "reporter"),
    )
    dispatcher = np.where(
        self_handled,
        "system",
        np.where(
            np.isin(src, ["hotline_12345", "police_110", "online_sentiment", "video"]),
            "county_command_centre",
            "town_command_centre",
        ),
    )
    parts = []

    def add(mask, at, actor, action, frm, to, note, step):
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        actor = np.broadcast_to(np.asarray(actor, dtype=object), (n,))[idx]
        note = np.broadcast_to(np.asarray(note, dtype=object), (n,))[idx]
        parts.append(
            pd.DataFrame(
                {
                    "i": idx,
                    "step": step,
                    "at_s": at[idx],
                    "actor": actor,
                    "action": action,
                    "from_status": frm,
                    "to_status": to,
                    "note": note,
                }
            )
        )

    everyone = np.ones(n, bool)
    add(everyone, t["rep"], reporter, "report", None, "reported", "上报", 0)
    rej = status == "rejected"
    rej_at = t["rep"] + rng.uniform(1800, 6 * 3600, n)
    add(rej, rej_at, "town_command_centre", "reject", "reported", "rejected", "不属于受理范围，不予受理", 1)
    mer = status == "merged"
    add(
        mer,
        t["rep"] + rng.uniform(600, 4 * 3600, n),
        "system",
        "merge",
        "reported",
        "merged",
        "重复上报，已合并至同一事项的工单",
        1,
    )
    d = ~np.isnan(t["disp"])
    add(
        d,
        t["disp"],
        dispatcher,
        "dispatch",
        "reported",
        "dispatched",
        np.where(self_handled, "就地处置，系统自动派遣至本网格", "派遣至属地网格办理"),
        2,
    )
    a = ~np.isnan(t["acc"])
    add(a, t["acc"], handler, "accept", "dispatched", "accepted", "已签收", 3)
    s = ~np.isnan(t["start"])
    add(s, t["start"], handler, "start", "accepted", "in_progress", "开始处置", 4)
    r = ~np.isnan(t["res"])
    add(r, t["res"], handler, "resolve", "in_progress", "resolved", "处置完毕，待回访", 6)
    c = ~np.isnan(t["close"])
    notes = np.array(["回访满意度1", "回访满意度2", "回访满意度3", "回访满意度4", "回访满意度5"], dtype=object)
    add(
        c,
        t["close"],
        "town_command_centre",
        "close",
        "resolved",
        "closed",
        np.where(visited, notes[np.clip(sat - 1, 0, 4)], "回访未接通，按期办结"),
        7,
    )
    # urging overdue work: late closed cases, and open cases past their deadline
    end_of_work = np.where(r, t["res"], T_end)
    overdue = d & (t["deadline"] < end_of_work) & ~np.isnan(t["deadline"])
    urge_at = t["deadline"] + rng.uniform(0.1, 0.9, n) * (end_of_work - t["deadline"])
    add(overdue, np.floor(urge_at), "county_command_centre", "urge", None, None, "超时限督办", 5)
    # a few refused requests for more time (the deadline stays the rule's)
    ext_req = overdue & (rng.random(n) < 0.06)
    ext_at = t["deadline"] - rng.uniform(0.05, 0.3, n) * (t["deadline"] - np.where(s, t["start"], t["disp"]))
    add(
        ext_req & (ext_at > np.where(s, t["start"], t["disp"])),
        np.floor(ext_at),
        handler,
        "extend",
        None,
        None,
        "申请延期，未获批准，仍按原时限考核",
        5,
    )
    ev = pd.concat(parts, ignore_index=True)
    ev = ev.sort_values(["i", "at_s", "step"], kind="stable").reset_index(drop=True)
    out = pd.DataFrame(
        {
            "external_id": ext[ev["i"].to_numpy()],
            "at": to_dt(ev["at_s"].to_numpy()),
            "actor": ev["actor"].to_numpy(),
            "action": ev["action"].to_numpy(),
            "from_status": ev["from_status"].to_numpy(),
            "to_status": ev["to_status"].to_numpy(),
            "note": ev["note"].to_numpy(),
        }
    )
    return out
