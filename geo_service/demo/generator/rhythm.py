"""When cases are reported: the sources, the period's calendar (Spring Festival, public holidays,
a mild wet-summer season) and each source's weekly and hourly rhythm."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

SOURCES = ["grid_app", "hotline_12345", "police_110", "citizen", "online_sentiment", "video"]


WEEKDAY = {  # Monday..Sunday
    "grid_app": [1.0, 1.02, 1.0, 0.98, 0.92, 0.30, 0.22],
    "hotline_12345": [1.05, 1.0, 1.0, 1.0, 0.98, 0.86, 0.82],
    "police_110": [0.95, 0.95, 0.95, 1.0, 1.05, 1.15, 1.1],
    "citizen": [1.0, 1.0, 1.0, 1.0, 0.95, 0.7, 0.6],
    "online_sentiment": [1.0, 1.0, 1.0, 1.0, 1.0, 1.05, 1.05],
    "video": [1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.5],
}
HOURLY = {
    "grid_app": [
        0.02,
        0.01,
        0.01,
        0.01,
        0.01,
        0.03,
        0.15,
        0.7,
        2.6,
        4.0,
        4.2,
        3.4,
        1.1,
        0.8,
        2.7,
        3.6,
        3.8,
        2.9,
        1.0,
        0.4,
        0.2,
        0.1,
        0.05,
        0.03,
    ],
    "hotline_12345": [
        0.3,
        0.2,
        0.1,
        0.1,
        0.1,
        0.2,
        0.5,
        1.5,
        3.0,
        4.0,
        4.0,
        3.5,
        2.4,
        2.3,
        3.2,
        3.5,
        3.3,
        3.0,
        2.2,
        2.0,
        1.8,
        1.4,
        0.9,
        0.5,
    ],
    "police_110": [
        1.2,
        0.9,
        0.6,
        0.5,
        0.4,
        0.5,
        0.8,
        1.2,
        1.8,
        2.2,
        2.3,
        2.2,
        2.0,
        2.0,
        2.1,
        2.2,
        2.3,
        2.4,
        2.6,
        2.8,
        2.8,
        2.5,
        2.0,
        1.6,
    ],
    "citizen": [
        0.1,
        0.05,
        0.05,
        0.05,
        0.05,
        0.1,
        0.4,
        1.2,
        2.8,
        3.6,
        3.6,
        3.0,
        2.0,
        1.8,
        2.9,
        3.3,
        3.1,
        2.6,
        1.8,
        1.4,
        1.2,
        0.8,
        0.4,
        0.2,
    ],
    "online_sentiment": [
        0.8,
        0.5,
        0.3,
        0.2,
        0.2,
        0.2,
        0.4,
        0.8,
        1.2,
        1.5,
        1.6,
        1.7,
        1.8,
        1.6,
        1.5,
        1.5,
        1.6,
        1.7,
        1.9,
        2.3,
        2.6,
        2.6,
        2.1,
        1.4,
    ],
    "video": [
        0.5,
        0.4,
        0.4,
        0.4,
        0.4,
        0.5,
        0.8,
        1.5,
        2.5,
        2.8,
        2.8,
        2.6,
        2.0,
        2.0,
        2.6,
        2.8,
        2.7,
        2.4,
        1.8,
        1.5,
        1.2,
        1.0,
        0.8,
        0.6,
    ],
}
OFFICE_SOURCES = {"grid_app", "citizen", "video"}  # these follow working days and holidays
SPRING_FESTIVAL = date(2026, 2, 17)
HOLIDAYS = [  # (first, last) public holidays of the period
    (date(2026, 1, 1), date(2026, 1, 3)),
    (date(2026, 2, 15), date(2026, 2, 23)),
    (date(2026, 4, 4), date(2026, 4, 6)),
    (date(2026, 5, 1), date(2026, 5, 5)),
    (date(2026, 6, 19), date(2026, 6, 21)),
    (date(2026, 9, 25), date(2026, 9, 27)),
    (date(2026, 10, 1), date(2026, 10, 7)),
]


def _day_weights(period_start: date, n_days: int) -> dict[str, np.ndarray]:
    days = np.array([period_start + timedelta(days=i) for i in range(n_days)])
    dow = np.arange(n_days) % 7
    sf = (SPRING_FESTIVAL - period_start).days
    d = np.arange(n_days)
    holiday = np.zeros(n_days, bool)
    for a, b in HOLIDAYS:
        holiday |= (days >= a) & (days <= b)
    out = {}
    for s in SOURCES:
        w = np.asarray(WEEKDAY[s])[dow]
        dip = 0.62 if s in OFFICE_SOURCES else 0.45
        w = w * (1 - dip * np.exp(-(((d - sf) / 5.5) ** 2)))
        if s in OFFICE_SOURCES:
            w = np.where(holiday, np.minimum(w, WEEKDAY[s][6]), w)
        # a mild season: more cases in the wet summer months
        w = w * (1 + 0.08 * np.sin(2 * np.pi * (d - 120) / 364))
        out[s] = w
    return out


def _sample_in_weeks(rng, weights_by_day, weeks):
    """A day index in each given week, by the day weights."""
    W = weights_by_day[: 52 * 7].reshape(52, 7)
    cdf = np.cumsum(W[weeks], axis=1)
    u = rng.random(len(weeks)) * cdf[:, -1]
    return weeks * 7 + (u[:, None] > cdf).sum(1)


def report_seconds(rng, src, hotspot_of, hs_week, n_extra, day_w, n_days):
    """Report times, in seconds from the period start: a day by each source's day weights (a
    hotspot's extra incidents within their planned week), an hour by the source's hourly rhythm.
    ``n_extra`` hotspot extras come last, after the background incidents."""
    n = len(src)
    day = np.empty(n, int)
    hs = hotspot_of >= 0
    for s_i, s in enumerate(SOURCES):
        sel = (src == s_i) & ~hs
        p = day_w[s] / day_w[s].sum()
        day[sel] = rng.choice(n_days, sel.sum(), p=p)
        sel_h = (src == s_i) & hs
        if sel_h.any():
            day[sel_h] = _sample_in_weeks(rng, day_w[s], hs_week[np.flatnonzero(sel_h) - (n - n_extra)])
    hour = np.empty(n, int)
    for s_i, s in enumerate(SOURCES):
        sel = src == s_i
        p = np.asarray(HOURLY[s]) / np.sum(HOURLY[s])
        hour[sel] = rng.choice(24, sel.sum(), p=p)
    rep = day * 86400.0 + hour * 3600.0 + rng.integers(0, 3600, n)
    return rep
