// The wall screen's panels drawn from one /wall/summary answer: the KPI tiles with their 环比 and
// 同比 arrows, the open overdue cases by unit, this month's rankings and the open red cases. Bars
// are plain elements sized through the CSSOM (the page's policy allows no style attribute).
// Every word comes from GS (the page's words, the vocabulary's labels, the county's time zone).
"use strict";

window.WallRender = (function () {
  const MEASURES = ["received", "closed", "overdue"];
  // Whether a rise is good news (green), bad news (red) or neither.
  const RISE = { received: "neutral", closed: "good", overdue: "bad" };
  const OVERDUE_SHOWN = 15;  // units in the overdue bars (the rest are counted below them)
  const RANKED_SHOWN = 7;  // units in each ranking

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const format = (options) => new Intl.DateTimeFormat(GS.language === "zh" ? "zh-CN" : "en-GB", {
    timeZone: GS.words.timezone, hour12: false, ...options,
  });
  // 11月15日 19:01, and 20:00:05: shorter than GS.fmt.datetime, for lists and the refresh time.
  const shortDateTime = (iso) => (iso ? format({ month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(iso)) : "");
  const clock = (when) => format({ hour: "2-digit", minute: "2-digit", second: "2-digit" }).format(when);

  // ▲ 25.6% / ▼ 3.1% / — 无基数: the change against one base, coloured by whether a rise is good.
  function changeLine(measure, compare, ratio, label) {
    const line = el("div", "kpi-change");
    line.dataset.compare = compare;
    line.append(el("span", "kpi-change-label", label));
    let arrow = "—", pct = GS.t("wall.change.no_base"), mood = "none";
    if (ratio !== null && ratio !== undefined) {
      arrow = ratio > 0 ? "▲" : ratio < 0 ? "▼" : "=";
      pct = ratio === 0 ? GS.t("wall.change.flat") : GS.fmt.percent(Math.abs(ratio), 1);
      const rise = RISE[measure];
      mood = ratio === 0 || rise === "neutral" ? "neutral" : (ratio > 0) === (rise === "good") ? "good" : "bad";
    }
    line.classList.add(`mood-${mood}`);
    line.append(el("span", "arrow", arrow), el("span", "pct", pct));
    return line;
  }

  function kpis(summary) {
    for (const row of document.querySelectorAll(".kpi-row")) {
      const period = row.dataset.period;
      const figures = summary.figures[period];
      row.replaceChildren(...MEASURES.map((measure) => {
        const figure = figures[measure];
        const tile = el("div", `kpi kpi-${measure}`);
        tile.dataset.kpi = `${period}.${measure}`;
        const value = el("div", "kpi-value");
        value.append(el("span", "value", GS.fmt.number(figure.current)), el("span", "unit", GS.t("wall.kpi.unit")));
        tile.append(
          el("div", "kpi-label", GS.t(`wall.kpi.${period}.${measure}`)),
          value,
          changeLine(measure, "previous", figure.change, GS.t(period === "today" ? "wall.change.day" : "wall.change.month")),
          changeLine(measure, "last_year", figure.change_last_year, GS.t("wall.change.last_year")),
        );
        return tile;
      }));
    }
  }

  function bar(share, kind) {
    const track = el("span", "bar-track");
    const fill = el("span", `bar-fill ${kind || ""}`);
    fill.style.width = `${Math.max(0, Math.min(1, share || 0)) * 100}%`;
    track.append(fill);
    return track;
  }

  function overdue(summary) {
    const unit = GS.label("tier", summary.unit);
    GS.$("wall-overdue-title").textContent = GS.t("wall.overdue.title", { unit });
    const { total, units } = summary.overdue_by_unit;
    GS.$("wall-overdue-total").textContent = GS.t("wall.overdue.total", { n: GS.fmt.number(total) });
    const box = GS.$("wall-overdue-bars");
    if (!units.length) {
      box.replaceChildren(el("p", "empty", GS.t("wall.overdue.none")));
      return;
    }
    const most = Math.max(...units.map((u) => u.overdue));
    const rows = units.slice(0, OVERDUE_SHOWN).map((u) => {
      const row = el("div", "bar-row");
      row.dataset.code = u.code;
      row.title = u.parent ? `${u.parent} · ${u.name}` : u.name || u.code;
      row.append(el("span", "bar-name", u.name || u.code), bar(u.overdue / most, "bad"), el("span", "bar-value", GS.fmt.number(u.overdue)));
      return row;
    });
    if (units.length > OVERDUE_SHOWN) rows.push(el("p", "more", GS.t("wall.overdue.more", { n: units.length - OVERDUE_SHOWN })));
    box.replaceChildren(...rows);
  }

  function rankings(summary) {
    GS.$("wall-rankings-title").textContent = GS.t("wall.ranking.title", { unit: GS.label("tier", summary.unit) });
    for (const box of document.querySelectorAll(".ranking")) {
      const metric = box.dataset.metric;
      const list = box.querySelector("ol");
      const rows = summary.rankings[metric] || [];
      if (!rows.length) {
        list.replaceChildren(el("li", "empty", GS.t("wall.ranking.none")));
        continue;
      }
      list.replaceChildren(...rows.slice(0, RANKED_SHOWN).map((r) => {
        const item = el("li", "rank-row");
        item.dataset.code = r.code;
        item.append(
          el("span", "rank", r.rank ?? "—"),
          el("span", "rank-name", r.name || r.code),
          bar(r.rate, metric === "overdue_rate" ? "bad" : "good"),
          el("span", "rank-rate", GS.fmt.percent(r.rate, 1)),
        );
        return item;
      }));
    }
  }

  function red(summary) {
    const { total, cases } = summary.red_cases;
    GS.$("wall-red-total").textContent = GS.t("wall.red.total", { n: GS.fmt.number(total) });
    const list = GS.$("wall-red-list");
    if (!cases.length) {
      list.replaceChildren(el("li", "empty", GS.t("wall.red.none")));
      return;
    }
    list.replaceChildren(...cases.map((c) => {
      const item = el("li", `red-case${c.overdue ? " is-overdue" : ""}`);
      item.dataset.id = c.id;
      const head = el("div", "red-head");
      head.append(el("span", "red-category", GS.label("category", c.category)), el("span", "red-status", GS.label("status", c.status)));
      if (c.overdue) head.append(el("span", "red-overdue", GS.t("wall.red.overdue")));
      const place = [c.town_name, c.village_name].filter(Boolean).join(" · ");
      const times = [shortDateTime(c.reported_at)];
      if (c.deadline) times.push(GS.t("wall.red.deadline", { time: shortDateTime(c.deadline) }));
      if (c.urge_count) times.push(GS.t("wall.red.urged", { n: c.urge_count }));
      item.append(head, el("div", "red-place", place), el("div", "red-times", times.join(" · ")));
      return item;
    }));
  }

  function header(summary) {
    GS.$("wall-as-at").textContent = GS.t("wall.as_at", { time: GS.fmt.datetime(summary.at) });
    const recent = summary.recent.metadata;
    GS.$("wall-map-count").textContent = recent.truncated
      ? GS.t("wall.map.truncated", { shown: GS.fmt.number(summary.recent.features.length), n: GS.fmt.number(recent.total) })
      : GS.t("wall.map.count", { n: GS.fmt.number(recent.total) });
  }

  function all(summary) {
    header(summary);
    kpis(summary);
    overdue(summary);
    rankings(summary);
    red(summary);
  }

  return { all, clock };
})();
