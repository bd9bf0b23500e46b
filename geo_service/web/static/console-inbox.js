// The inbox: the open cases of the user's jurisdiction in buckets (new, being handled, overdue, due
// within a day) with their counts, red cases first; filters and a search; new cases arriving
// without a reload (the page polls /inbox/changes); 一键催办 over a selection of overdue cases.
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  const { $, t, label, esc, fmt } = GS;
  const BUCKETS = ["new", "dispatched", "overdue", "due_soon"];
  const LIMIT = 50;
  const POLL_MS = () => window.consolePollMs || 10_000;
  const state = {
    bucket: "new", offset: 0, filters: {}, q: "", items: [], counts: null, total: 0,
    selected: new Set(), statuses: [], cursor: 0, seen: new Set(), arrived: [], timer: null, loading: 0,
  };

  // --- the query --------------------------------------------------------------------------------

  function dayAfter(day) {
    const d = new Date(`${day}T00:00:00Z`);
    d.setUTCDate(d.getUTCDate() + 1);
    return d.toISOString().slice(0, 10);
  }

  function query(extra = {}) {
    const q = new URLSearchParams({ bucket: state.bucket, limit: LIMIT, offset: state.offset, ...extra });
    const f = state.filters;
    const place = f.grid || f.place;
    if (place) q.set("place", place);
    for (const name of ["category", "source", "status", "risk"]) if (f[name]) q.set(name, f[name]);
    if (f.start) q.set("start", f.start);
    if (f.end) q.set("end", dayAfter(f.end));  // the "to" day is included
    if (state.q) q.set("q", state.q);
    return q;
  }

  // --- the filters ------------------------------------------------------------------------------

  function options(select, entries, anyKey = "console.filter.any") {
    select.innerHTML = `<option value="">${esc(t(anyKey))}</option>` +
      entries.map(([code, name]) => `<option value="${esc(code)}">${esc(name)}</option>`).join("");
  }

  function fillFilters() {
    options($("filter-category"), Object.keys(GS.words.categories).map((c) => [c, label("category", c)]));
    options($("filter-source"), Object.keys(GS.words.sources).map((c) => [c, label("source", c)]));
    options($("filter-risk"), ["red", "yellow", "blue"].map((c) => [c, label("risk", c)]));
    options($("filter-status"), []);
    options($("filter-place"), [], "console.filter.all_places");
  }

  function fillPlaces(places) {
    const entries = [];
    for (const town of places) {
      entries.push([town.code, `${town.name || town.code}（${town.open}）`]);
      for (const village of town.villages) entries.push([village.code, `\u3000${village.name || village.code}（${village.open}）`]);
    }
    const chosen = $("filter-place").value;
    options($("filter-place"), entries, "console.filter.all_places");
    $("filter-place").value = chosen;
  }

  function fillStatuses(statuses) {
    if (state.statuses.join() === statuses.join()) return;
    state.statuses = statuses;
    const chosen = $("filter-status").value;
    options($("filter-status"), statuses.map((s) => [s, label("status", s)]));
    $("filter-status").value = chosen;
  }

  function readFilters() {
    const form = new FormData($("filters"));
    state.filters = Object.fromEntries([...form.entries()].filter(([, v]) => String(v).trim() !== "").map(([k, v]) => [k, String(v).trim()]));
  }

  // --- drawing ----------------------------------------------------------------------------------

  function renderTabs() {
    $("buckets").innerHTML = BUCKETS.map((b) => `
      <button type="button" role="tab" data-bucket="${b}" aria-selected="${b === state.bucket}" class="${b === state.bucket ? "active" : ""} bucket-${b}">
        ${esc(t(`console.bucket.${b}`))} <span class="count">${state.counts ? fmt.number(state.counts[b]) : "…"}</span>
      </button>`).join("");
  }

  function deadlineText(item) {
    if (!item.deadline) return esc(t("console.inbox.no_deadline"));
    const when = fmt.datetime(item.deadline);
    if (item.overdue) return `<span class="late">${esc(t("console.inbox.overdue_by", { time: fmt.hours(-item.hours_left) }))}</span> · ${esc(when)}`;
    return `${esc(t("console.inbox.due_in", { time: fmt.hours(item.hours_left) }))} · ${esc(when)}`;
  }

  function row(item) {
    const place = [item.town?.name, item.village?.name, item.grid?.name].filter(Boolean).join(" · ");
    const checkbox = state.bucket === "overdue"
      ? `<input type="checkbox" class="pick" data-id="${item.id}" aria-label="${esc(t("console.bulk.select", { id: item.id }))}" ${state.selected.has(item.id) ? "checked" : ""}>` : "";
    const red = item.risk_colour === "red" ? `<span class="red-mark">${esc(t("console.inbox.red_mark"))}</span>` : "";
    const urged = item.urge_count ? ` · ${esc(t("console.inbox.urged", { n: item.urge_count }))}` : "";
    return `<li class="case risk-${esc(item.risk_colour)}${CS.caseView?.current === item.id ? " active" : ""}" data-id="${item.id}" data-risk="${esc(item.risk_colour)}">
      ${checkbox}
      <button type="button" class="open" data-id="${item.id}">
        <span class="line1">${red}<b>#${item.id}</b> ${esc(label("category", item.category))}
          <span class="status">${esc(label("status", item.status))}</span>
          <span class="risk risk-${esc(item.risk_colour)}">${esc(label("risk", item.risk_colour))}</span></span>
        <span class="line2">${esc(place)} · ${esc(label("source", item.source))} · ${esc(fmt.datetime(item.reported_at))}</span>
        <span class="line3">${deadlineText(item)}${urged}</span>
        ${item.description ? `<span class="line4">${esc(item.description)}</span>` : ""}
      </button></li>`;
  }

  function renderList() {
    $("inbox-list").innerHTML = state.items.map(row).join("") || `<li class="hint">${esc(t("console.inbox.empty"))}</li>`;
    const from = state.total ? state.offset + 1 : 0;
    const to = Math.min(state.offset + LIMIT, state.total);
    $("page-info").textContent = t("console.inbox.page", { from: fmt.number(from), to: fmt.number(to), total: fmt.number(state.total) });
    $("page-prev").disabled = state.offset === 0;
    $("page-next").disabled = state.offset + LIMIT >= state.total;
    $("bulk").hidden = state.bucket !== "overdue";
    renderBulk();
  }

  function renderBulk() {
    $("bulk-urge").textContent = t("console.bulk.urge", { n: state.selected.size });
    $("bulk-urge").disabled = state.selected.size === 0;
    const boxes = [...document.querySelectorAll("#inbox-list input.pick")];
    $("bulk-all").checked = boxes.length > 0 && boxes.every((b) => b.checked);
  }

  function renderArrivals() {
    $("arrivals").hidden = state.arrived.length === 0;
    $("arrivals-title").textContent = t("console.arrivals.title", { n: state.arrived.length });
    $("arrivals-list").innerHTML = state.arrived.slice(0, 12).map((item) =>
      `<button type="button" class="arrival risk-${esc(item.risk_colour)}" data-id="${item.id}">#${item.id} ${esc(label("category", item.category))}</button>`).join("");
  }

  // --- loading ----------------------------------------------------------------------------------

  async function load({ places = false } = {}) {
    if (!GS.token) return;
    const ticket = ++state.loading;
    $("inbox-error").textContent = "";
    try {
      const body = await GS.json(`/inbox?${query(places ? { with_places: "true" } : {})}`);
      if (ticket !== state.loading) return;  // a later load has begun: its answer wins
      Object.assign(state, { items: body.items, counts: body.counts, total: body.total });
      fillStatuses(body.statuses);
      if (body.places) fillPlaces(body.places);
      renderTabs();
      renderList();
      $("inbox-status").textContent = t("console.inbox.updated", { time: fmt.time(new Date().toISOString()) });
      window.consoleInboxLoaded = (window.consoleInboxLoaded || 0) + 1;
    } catch (error) {
      if (ticket === state.loading) $("inbox-error").textContent = error.message;
    }
  }

  const sameCounts = (a, b) => a && b && BUCKETS.every((k) => a[k] === b[k]) && a.open === b.open;

  // New cases since the last look: shown at the top; moved counts reload the list.
  async function poll() {
    if (!GS.token || document.hidden) return;
    try {
      const body = await GS.json(`/inbox/changes?since=${state.cursor}`);
      state.cursor = Math.max(state.cursor, body.cursor);
      const fresh = body.items.filter((item) => !state.seen.has(item.id));
      fresh.forEach((item) => state.seen.add(item.id));
      if (fresh.length) {
        state.arrived = [...fresh, ...state.arrived].slice(0, 50);
        renderArrivals();
      }
      if (!sameCounts(body.counts, state.counts) || fresh.length) await load();
    } catch (error) {
      $("inbox-status").textContent = t("console.inbox.poll_failed", { message: error.message });
    }
  }

  async function startPolling() {
    stopPolling();
    try {  // what exists already is not news
      const first = await GS.json("/inbox/changes");
      state.cursor = first.cursor;
      first.items.forEach((item) => state.seen.add(item.id));
    } catch { /* the next poll will say */ }
    state.timer = setInterval(poll, POLL_MS());
  }

  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  // --- 一键催办 -----------------------------------------------------------------------------------

  async function urgeSelected() {
    const ids = [...state.selected];
    if (!ids.length) return;
    $("bulk-urge").disabled = true;
    $("bulk-result").innerHTML = "";
    try {
      const body = await GS.post("/inbox/urge", { ids });
      const refused = body.results.filter((r) => !r.ok);
      $("bulk-result").innerHTML = `<p class="ok">${esc(t("console.bulk.done", { ok: body.urged, refused: body.refused }))}</p>` +
        refused.map((r) => `<p class="error">${esc(t("console.bulk.refused", { id: r.id, message: r.message }))}</p>`).join("");
      state.selected.clear();
      await load();
      if (CS.caseView?.current && ids.includes(CS.caseView.current)) CS.caseView.open(CS.caseView.current);
    } catch (error) {
      $("bulk-result").innerHTML = `<p class="error">${esc(error.message)}</p>`;
    }
    renderBulk();
  }

  // --- wiring -----------------------------------------------------------------------------------

  function wire() {
    $("buckets").addEventListener("click", (event) => {
      const tab = event.target.closest("button[data-bucket]");
      if (!tab) return;
      Object.assign(state, { bucket: tab.dataset.bucket, offset: 0 });
      state.selected.clear();
      $("bulk-result").innerHTML = "";
      renderTabs();
      load();
    });
    $("inbox-list").addEventListener("click", (event) => {
      const open = event.target.closest("button.open");
      if (open) CS.caseView.open(Number(open.dataset.id));
    });
    $("inbox-list").addEventListener("change", (event) => {
      const box = event.target.closest("input.pick");
      if (!box) return;
      if (box.checked) state.selected.add(Number(box.dataset.id)); else state.selected.delete(Number(box.dataset.id));
      renderBulk();
    });
    $("bulk-all").addEventListener("change", () => {
      for (const box of document.querySelectorAll("#inbox-list input.pick")) {
        box.checked = $("bulk-all").checked;
        if (box.checked) state.selected.add(Number(box.dataset.id)); else state.selected.delete(Number(box.dataset.id));
      }
      renderBulk();
    });
    $("bulk-urge").addEventListener("click", urgeSelected);
    $("arrivals-list").addEventListener("click", (event) => {
      const chip = event.target.closest("button[data-id]");
      if (chip) CS.caseView.open(Number(chip.dataset.id));
    });
    $("arrivals-dismiss").addEventListener("click", () => { state.arrived = []; renderArrivals(); });
    $("search").addEventListener("submit", (event) => {
      event.preventDefault();
      state.q = $("search-text").value.trim();
      state.offset = 0;
      load();
    });
    $("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      readFilters();
      state.offset = 0;
      load();
    });
    $("filters").addEventListener("reset", () => setTimeout(() => { readFilters(); state.offset = 0; load(); }, 0));
    $("page-prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); load(); });
    $("page-next").addEventListener("click", () => { state.offset += LIMIT; load(); });
    document.addEventListener("visibilitychange", () => { if (!document.hidden && state.timer) poll(); });
  }

  let wired = false;

  async function start() {
    if (!wired) { wire(); wired = true; }
    fillFilters();
    renderTabs();
    await load({ places: true });
    await startPolling();
  }

  function clear() {
    stopPolling();
    Object.assign(state, { items: [], counts: null, total: 0, offset: 0, cursor: 0, arrived: [], q: "", filters: {} });
    state.selected.clear();
    state.seen.clear();
    $("inbox-list").innerHTML = "";
    $("filters").reset();
    $("search-text").value = "";
    renderArrivals();
  }

  CS.inbox = {
    start, load, clear, poll,
    get counts() { return state.counts; },
    get statuses() { return state.statuses; },  // those of open cases, as the inbox answers them
  };
})();
