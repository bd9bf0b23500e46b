// The worker's own cases: the open cases of their jurisdiction (the service shows a grid worker
// their grid's only), each with the steps the worker may take on it now (accept, start, resolve
// with a note and photos). A step the service refuses is shown with its own message.
"use strict";

(function () {
  const { $, t, esc } = GS;
  const OPEN = ["reported", "dispatched", "accepted", "in_progress", "reopened"];
  const STEPS = ["accept", "start", "resolve"]; // what a worker in the field does; the rest is the centre's
  // forms: the resolve forms open, by case ({note, photos}); messages: the last word on each case.
  const state = { cases: [], total: 0, loaded: false, forms: new Map(), messages: new Map(), urls: [] };

  async function load() {
    $("cases-message").textContent = "";
    if (!state.loaded) $("cases-summary").textContent = t("phone.cases.loading");
    const query = OPEN.map((s) => `status=${s}`).join("&");
    try {
      const page = await GS.json(`/incidents?${query}&limit=200`);
      state.cases = page.items;
      state.total = page.total;
      state.loaded = true;
    } catch (error) {
      $("cases-message").textContent = t("phone.cases.offline", { message: error.message });
    }
    render();
  }

  function card(incident) {
    const steps = (incident.allowed_actions || []).filter((a) => STEPS.includes(a));
    const overdue = incident.deadline && !incident.resolved_at && new Date(incident.deadline) < new Date();
    const place = [incident.village?.name, incident.grid?.name].filter(Boolean).join(" · ");
    const form = state.forms.get(incident.id);
    const message = state.messages.get(incident.id) || { text: "", kind: "" };
    const buttons = steps.map((a) => `<button type="button" class="step step-${esc(a)}" data-action="${esc(a)}">${esc(GS.label("action", a))}</button>`);
    return `
      <li class="card risk-edge-${esc(incident.risk_colour)}" data-id="${incident.id}">
        <div class="card-head">
          <span class="case-id">#${incident.id}</span>
          <span class="status status-${esc(incident.status)}">${esc(GS.label("status", incident.status))}</span>
          <span class="risk-${esc(incident.risk_colour)}">${esc(GS.label("risk", incident.risk_colour))}</span>
        </div>
        <div class="card-title">${esc(GS.label("category", incident.category))}</div>
        ${incident.description ? `<p class="desc">${esc(incident.description)}</p>` : ""}
        <dl>
          <dt>${esc(t("phone.cases.reported_at"))}</dt><dd>${esc(GS.fmt.datetime(incident.reported_at))}</dd>
          ${incident.deadline ? `<dt>${esc(t("phone.cases.deadline"))}</dt><dd class="${overdue ? "overdue" : ""}">${esc(GS.fmt.datetime(incident.deadline))}${overdue ? ` · ${esc(t("phone.cases.overdue"))}` : ""}</dd>` : ""}
          ${place ? `<dt>${esc(t("phone.cases.place"))}</dt><dd>${esc(place)}</dd>` : ""}
        </dl>
        <div class="actions">${buttons.join("") || `<span class="hint">${esc(t("phone.cases.nothing_now"))}</span>`}</div>
        ${form ? resolveForm(incident, form) : ""}
        <p class="message ${esc(message.kind)}" role="status">${esc(message.text)}</p>
      </li>`;
  }

  function resolveForm(incident, form) {
    const thumbs = form.photos.map((photo) => {
      const url = URL.createObjectURL(photo);
      state.urls.push(url);
      return `<li><img src="${url}" alt="${esc(photo.name)}"></li>`;
    });
    return `
      <div class="resolve-form">
        <label for="resolve-note-${incident.id}">${esc(t("phone.cases.resolve_note"))}</label>
        <textarea id="resolve-note-${incident.id}" class="resolve-note" rows="3" maxlength="2000">${esc(form.note)}</textarea>
        <label class="photo-button" for="resolve-photos-${incident.id}">
          <span>${esc(t("phone.cases.resolve_photos"))}</span>
          <input id="resolve-photos-${incident.id}" class="resolve-photos" type="file" accept="image/*" capture="environment">
        </label>
        <ul class="thumbs">${thumbs.join("")}</ul>
        <div class="actions">
          <button type="button" class="primary" data-confirm="resolve">${esc(t("phone.cases.resolve_confirm"))}</button>
          <button type="button" data-cancel="resolve">${esc(t("phone.cases.cancel"))}</button>
        </div>
      </div>`;
  }

  function render() {
    for (const url of state.urls) URL.revokeObjectURL(url);
    state.urls = [];
    if (state.loaded) {
      $("cases-summary").textContent = state.total ? t("phone.cases.count", { n: state.total }) : t("phone.cases.none");
    }
    $("cases-list").innerHTML = state.cases.map(card).join("");
  }

  function replace(updated) {
    state.cases = state.cases.map((c) => (c.id === updated.id ? updated : c));
  }

  function said(id, text, kind) {
    state.messages.set(id, { text, kind });
  }

  // accept and start at a tap; resolve opens its form (a note, photos) first.
  async function step(id, action, buttons) {
    state.messages.delete(id);
    if (action === "resolve") {
      state.forms.set(id, { note: "", photos: [] });
      render();
      return;
    }
    buttons.forEach((b) => { b.disabled = true; });
    try {
      replace(await GS.post(`/incidents/${id}/${action}`, {}));
      said(id, t("phone.cases.done", { action: GS.label("action", action) }), "ok");
    } catch (error) {
      said(id, error.message, "error");
    }
    render();
  }

  // The photos first (each kept once by the service, so a retry after a failure sends none of
  // them twice), then the step itself.
  async function resolve(id, item) {
    const form = state.forms.get(id);
    form.note = item.querySelector(".resolve-note").value.trim();
    if (!form.note) { said(id, t("phone.cases.need_note"), "error"); render(); return; }
    item.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    const message = item.querySelector(".message");
    try {
      for (const [i, photo] of form.photos.entries()) {
        message.textContent = t("phone.cases.uploading", { i: i + 1, n: form.photos.length });
        const body = new FormData();
        body.append("file", photo, photo.name || "photo.jpg");
        await GS.json(`/attachments/incidents/${id}`, { method: "POST", body });
      }
      replace(await GS.post(`/incidents/${id}/resolve`, { note: form.note }));
      state.forms.delete(id);
      said(id, t("phone.cases.done", { action: GS.label("action", "resolve") }), "ok");
    } catch (error) {
      said(id, error.message, "error");
    }
    render();
  }

  function start() {
    const list = $("cases-list");
    list.addEventListener("click", (event) => {
      const item = event.target.closest("li[data-id]");
      if (!item) return;
      const id = Number(item.dataset.id);
      const button = event.target.closest("button");
      if (!button) return;
      if (button.dataset.action) step(id, button.dataset.action, [...item.querySelectorAll("button")]);
      if (button.dataset.confirm) resolve(id, item);
      if (button.dataset.cancel) { state.forms.delete(id); render(); }
    });
    list.addEventListener("change", (event) => {
      if (!event.target.classList.contains("resolve-photos")) return;
      const item = event.target.closest("li[data-id]");
      const form = state.forms.get(Number(item.dataset.id));
      form.note = item.querySelector(".resolve-note").value;
      form.photos.push(...event.target.files);
      render();
    });
    $("cases-refresh").addEventListener("click", load);
  }

  window.PhoneCases = { start, load };
})();
