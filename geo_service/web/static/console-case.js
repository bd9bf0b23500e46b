// The case view: the case on the map with its grid, village and town; the people bound to it with
// 一键拨号 (tel: links) and a "called" button that puts the call on the timeline; the cameras that
// see the spot; the steps allowed now; the proposed duplicates with a merge button; the timeline,
// every event with its time in county time and its actor.
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  const { $, t, label, esc, fmt } = GS;
  const state = { current: null, incident: null, cameras: new Map(), ticket: 0 };

  const isOpen = (incident) => (CS.inbox.statuses || []).includes(incident.status);

  function notice(text) {
    $("case-notice").hidden = !text;
    $("case-notice").textContent = text || "";
  }

  function eventLabel(action) {
    const named = label("action", action);
    if (named !== action) return named;
    const own = t(`console.event.${action}`);
    return own === `console.event.${action}` ? action : own;
  }

  // Who took a step: a user by name, or the system, a reporter, a source or a role by label.
  function actorName(actor) {
    if (actor === "system" || actor === "reporter") return t(`console.timeline.${actor}`);
    if (GS.words.sources[actor]) return label("source", actor);
    return GS.words.roles[actor] ? label("role", actor) : actor;
  }

  function fact(key, value, id = "") {
    return value === null || value === undefined || value === ""
      ? "" : `<dt>${esc(t(`console.case.${key}`))}</dt><dd${id ? ` id="${id}"` : ""}>${value}</dd>`;
  }

  function deadline(incident) {
    if (!incident.deadline) return null;
    const hours = (new Date(incident.deadline) - Date.now()) / 3_600_000;
    const running = ["dispatched", "accepted", "in_progress"].includes(incident.status);
    const left = !running ? "" : hours < 0
      ? ` <span class="late">${esc(t("console.inbox.overdue_by", { time: fmt.hours(-hours) }))}</span>`
      : ` <span>${esc(t("console.inbox.due_in", { time: fmt.hours(hours) }))}</span>`;
    return `${esc(fmt.datetime(incident.deadline))}${left}`;
  }

  function place(incident) {
    if (!incident.grid) return `<p class="warn">${esc(t("console.case.outside"))}</p>`;
    return `<dl class="facts">
      ${fact("grid", `${esc(incident.grid.name)} <code>${esc(incident.grid.code)}</code>`, "case-grid")}
      ${fact("village", esc(incident.village?.name), "case-village")}
      ${fact("town", esc(incident.town?.name), "case-town")}
    </dl>`;
  }

  function people(incident) {
    const open = isOpen(incident);
    const rows = (incident.officers || []).map((o) => {
      const masked = !o.phone || o.phone.includes("*");
      const phone = o.vacant ? "" : masked
        ? esc(o.phone || "")
        : `<a class="dial" href="tel:${esc(o.phone)}">${esc(t("console.people.call"))} ${esc(o.phone)}</a>`;
      const called = !o.vacant && open
        ? `<button type="button" class="called" data-officer="${esc(o.officer_code)}" data-name="${esc(o.name)}">${esc(t("console.people.called"))}</button>` : "";
      return `<tr class="${o.vacant ? "vacant" : ""}" data-role="${esc(o.role)}" data-tier="${esc(o.tier)}">
        <td>${esc(label("tier", o.tier))}</td><td>${esc(label("role", o.role))}</td>
        <td>${o.vacant ? esc(t("console.people.vacant")) : esc(o.name)}</td><td>${phone}</td><td>${called}</td></tr>`;
    });
    return `<section id="case-people"><h3>${esc(t("console.people.title"))}</h3>
      <table>${rows.join("") || `<tr><td>${esc(t("console.none"))}</td></tr>`}</table></section>`;
  }

  function cameras(list) {
    if (list === undefined) return `<p class="hint">${esc(t("console.loading"))}</p>`;
    if (list instanceof Error) return `<p class="error">${esc(list.message)}</p>`;
    if (!list.length) return `<p class="hint">${esc(t("console.cameras.none"))}</p>`;
    return `<table>${list.slice(0, 8).map((c) => `<tr class="${c.sees ? "sees" : ""}">
      <td>${esc(c.name)}</td><td>${esc(t(c.sees ? "console.cameras.sees" : "console.cameras.near"))}</td>
      <td>${esc(label("camera", c.status))}</td><td>${esc(t("console.cameras.metres", { n: fmt.number(c.distance_m, 0) }))}</td></tr>`).join("")}</table>`;
  }

  function duplicates(incident, found) {
    if (found === undefined) return `<p class="hint">${esc(t("console.loading"))}</p>`;
    if (found instanceof Error) return `<p class="error">${esc(found.message)}</p>`;
    if (!found.length) return `<p class="hint">${esc(t("console.duplicates.none"))}</p>`;
    const merge = incident.allowed_actions.includes("merge");
    return `<ul>${found.map((d) => `<li data-id="${d.id}"><b>#${d.id}</b> ${esc(label("category", d.category))} · ${esc(label("status", d.status))}
      · ${esc(fmt.datetime(d.reported_at))} · ${esc(t("console.duplicates.row", { metres: fmt.number(d.distance_m, 0), hours: fmt.number(d.hours_apart, 1) }))}
      ${merge ? `<button type="button" class="merge-into" data-into="${d.id}">${esc(t("console.duplicates.merge"))}</button>` : ""}</li>`).join("")}</ul>`;
  }

  function timeline(incident) {
    return `<ol class="timeline">${(incident.timeline || []).map((e) => `<li data-action="${esc(e.action)}">
      <time datetime="${esc(e.at)}">${esc(fmt.datetime(e.at))}</time>
      <b>${esc(eventLabel(e.action))}</b> <span class="actor">${esc(t("console.timeline.by", { actor: actorName(e.actor) }))}</span>
      ${e.to_status ? `<span class="move">${e.from_status ? `${esc(label("status", e.from_status))} → ` : ""}${esc(label("status", e.to_status))}</span>` : ""}
      ${e.note ? `<div class="note">${esc(e.note)}</div>` : ""}</li>`).join("")}</ol>`;
  }

  // The whole view of `incident` (cameras and duplicates are filled in as they arrive).
  function render(incident, { notice: said } = {}) {
    state.current = incident.id;
    state.incident = incident;
    notice(said);
    const risk = incident.risk_colour;
    $("case-view").innerHTML = `
      <article id="case" data-id="${incident.id}" data-status="${esc(incident.status)}" data-risk="${esc(risk)}">
        <h2>${esc(t("console.case.title", { id: incident.id }))}
          <span class="badge risk-${esc(risk)}" id="case-risk">${esc(label("risk", risk))}</span>
          <span class="badge status" id="case-status">${esc(label("status", incident.status))}</span></h2>
        <dl class="facts">
          ${fact("external_id", esc(incident.external_id))}
          ${fact("category", esc(label("category", incident.category)))}
          ${fact("source", esc(label("source", incident.source)))}
          ${fact("tier", esc(label("tier", incident.tier)), "case-tier")}
          ${fact("reported_at", esc(fmt.datetime(incident.reported_at)))}
          ${fact("dispatched_at", incident.dispatched_at && esc(fmt.datetime(incident.dispatched_at)))}
          ${fact("deadline", deadline(incident), "case-deadline")}
          ${fact("urges", incident.urge_count ? esc(fmt.number(incident.urge_count)) : null, "case-urges")}
          ${fact("satisfaction", incident.satisfaction ? esc(t(`console.satisfaction.${incident.satisfaction}`)) : null)}
        </dl>
        <h3>${esc(t("console.case.place"))}</h3>${place(incident)}
        ${incident.description ? `<h3>${esc(t("console.case.description"))}</h3><p class="description">${esc(incident.description)}</p>` : ""}
        ${incident.reporter ? `<dl class="facts">${fact("reporter", `${esc(incident.reporter.name || "")} ${esc(incident.reporter.phone || "")}`)}</dl>` : ""}
        ${CS.actions.render(incident, isOpen(incident))}
        ${people(incident)}
        <section id="case-cameras"><h3>${esc(t("console.cameras.title"))}</h3><div class="body">${cameras(state.cameras.get(incident.id))}</div></section>
        <section id="case-duplicates"><h3>${esc(t("console.duplicates.title"))}</h3><div class="body">${duplicates(incident)}</div></section>
        <section id="case-timeline"><h3>${esc(t("console.timeline.title"))}</h3>${timeline(incident)}</section>
      </article>`;
    for (const li of document.querySelectorAll("#inbox-list li.case")) li.classList.toggle("active", Number(li.dataset.id) === incident.id);
    fillAround(incident);
    window.consoleCaseShown = incident.id;
  }

  async function locate(incident) {
    if (state.cameras.has(incident.id)) return state.cameras.get(incident.id);
    const { lon, lat } = incident.location;
    const query = new URLSearchParams({ lon, lat, crs: "cgcs2000", risk_colour: incident.risk_colour, tier: incident.tier });
    try {
      const found = (await GS.json(`/locate?${query}`)).cameras;
      state.cameras.set(incident.id, found);
      return found;
    } catch (error) {
      return error;
    }
  }

  // What is asked for beside the case: its cameras and duplicates, then the map.
  async function fillAround(incident) {
    const ticket = ++state.ticket;
    const [seen, found] = await Promise.all([
      locate(incident),
      GS.json(`/incidents/${incident.id}/duplicates`).then((d) => d.candidates, (error) => error),
    ]);
    if (ticket !== state.ticket) return;  // another case (or a redraw) came meanwhile
    $("case-cameras").querySelector(".body").innerHTML = cameras(seen);
    $("case-duplicates").querySelector(".body").innerHTML = duplicates(incident, found);
    await CS.map.showCase(incident, Array.isArray(seen) ? seen : []);
    window.consoleCaseFilled = incident.id;
  }

  async function open(id) {
    CS.newCase?.close();
    state.current = id;
    notice("");
    $("case-view").innerHTML = `<p class="hint">${esc(t("console.loading"))}</p>`;
    try {
      render(await GS.json(`/incidents/${id}`));
    } catch (error) {
      $("case-view").innerHTML = `<p class="error">${esc(error.message)}</p>`;
    }
  }

  function clear() {
    Object.assign(state, { current: null, incident: null });
    state.cameras.clear();
    notice("");
    $("case-view").innerHTML = `<p class="hint">${esc(t("console.case.empty"))}</p>`;
  }

  let wired = false;
  function wire() {
    if (wired) return;
    wired = true;
    CS.actions.wire();
    $("case-view").addEventListener("click", (event) => {
      const called = event.target.closest("#case-people button.called");
      if (called && state.current) {
        CS.actions.take(state.current, "call", { officer: called.dataset.officer }, called,
          t("console.people.called_done", { name: called.dataset.name }));
      }
      const merge = event.target.closest("#case-duplicates button.merge-into");
      if (merge && state.current) CS.actions.take(state.current, "merge", { into: Number(merge.dataset.into) }, merge);
    });
  }

  CS.caseView = { open, render, clear, wire, get current() { return state.current; } };
})();
