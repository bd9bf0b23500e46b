// The steps a case allows now, as buttons (the API's allowed_actions, in the loop's order), with
// what each needs beside the note: hours for an extension, the decision on it, the follow-up
// visit's satisfaction to close, the case to merge into, the new risk colour. A refusal is shown
// with the server's own message, in the reader's language.
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  const { $, t, label, esc } = GS;
  let busy = false;

  function button(action, text, extra = "") {
    return `<button type="button" class="step step-${esc(action)}" data-action="${esc(action)}" ${extra}>${esc(text)}</button>`;
  }

  function control(action, incident) {
    switch (action) {
      case "close": {
        const choices = [5, 4, 3, 2, 1].map((n) => `<option value="${n}">${esc(t(`console.satisfaction.${n}`))}</option>`).join("");
        return `<span class="with"><label>${esc(t("console.actions.satisfaction"))} <select id="act-satisfaction">${choices}</select></label>${button(action, label("action", action))}</span>`;
      }
      case "request_extension":
        return `<span class="with"><label>${esc(t("console.actions.hours"))} <input id="act-hours" type="number" min="1" max="2160" step="1" value="24"></label>${button(action, label("action", action))}</span>`;
      case "decide_extension":
        return `<span class="with">${button(action, t("console.actions.grant"), 'data-grant="true"')}${button(action, t("console.actions.refuse"), 'data-grant="false"')}</span>`;
      case "merge":
        return `<span class="with"><label>${esc(t("console.actions.into"))} <input id="act-into" type="number" min="1" step="1"></label>${button(action, label("action", action))}</span>`;
      case "set_risk": {
        const others = ["red", "yellow", "blue"].filter((c) => c !== incident.risk_colour);
        const choices = others.map((c) => `<option value="${c}">${esc(label("risk", c))}</option>`).join("");
        return `<span class="with"><label>${esc(t("console.actions.new_colour"))} <select id="act-colour">${choices}</select></label>${button(action, label("action", action))}</span>`;
      }
      default:
        return button(action, label("action", action));
    }
  }

  // The area of steps for `incident`; `open` says whether records (a colour change) may be put on it.
  function render(incident, open) {
    // An extension is asked while none waits, and decided while one does.
    const waiting = incident.extension_waiting === true;
    const shown = incident.allowed_actions.filter(
      (a) => !(a === "decide_extension" && !waiting) && !(a === "request_extension" && waiting),
    );
    const steps = [...shown, ...(open ? ["set_risk"] : [])];
    if (!steps.length) return `<section id="case-actions"><h3>${esc(t("console.actions.title"))}</h3><p class="hint">${esc(t("console.actions.none"))}</p></section>`;
    return `<section id="case-actions">
      <h3>${esc(t("console.actions.title"))}</h3>
      <label class="note">${esc(t("console.actions.note"))}<textarea id="act-note" rows="2" maxlength="2000"></textarea></label>
      <div class="steps">${steps.map((a) => control(a, incident)).join("")}</div>
      <div id="case-error" class="error" role="alert"></div>
    </section>`;
  }

  function bodyFor(action, trigger) {
    const note = $("act-note")?.value.trim();
    const body = note ? { note } : {};
    if (action === "close") body.satisfaction = Number($("act-satisfaction").value);
    if (action === "request_extension") body.hours = Number($("act-hours").value);
    if (action === "decide_extension") body.grant = trigger.dataset.grant === "true";
    if (action === "merge") body.into = Number($("act-into").value) || null;
    if (action === "set_risk") body.risk_colour = $("act-colour").value;
    return body;
  }

  // Take `action` on case `id` (from a button, or another part of the page with its own body).
  async function take(id, action, body, trigger, said) {
    if (busy) return null;
    busy = true;
    document.querySelectorAll("#case-view button").forEach((b) => { b.disabled = true; });
    const error = $("case-error");
    if (error) error.textContent = "";
    try {
      const incident = await GS.post(`/incidents/${id}/${action}`, body);
      busy = false;
      CS.caseView.render(incident, { notice: said || t("console.actions.done", { action: label("action", action) }) });
      CS.inbox.load();
      return incident;
    } catch (failure) {
      busy = false;
      document.querySelectorAll("#case-view button").forEach((b) => { b.disabled = false; });
      const where = $("case-error") || trigger?.parentElement;
      if (where) where.textContent = failure.message;
      return null;
    }
  }

  // One listener for every case the view shows (the view is redrawn, the listener stays).
  let wired = false;
  function wire() {
    if (wired) return;
    wired = true;
    $("case-view").addEventListener("click", (event) => {
      const trigger = event.target.closest("#case-actions button[data-action]");
      if (!trigger || !CS.caseView.current) return;
      take(CS.caseView.current, trigger.dataset.action, bodyFor(trigger.dataset.action, trigger), trigger);
    });
  }

  CS.actions = { render, wire, take };
})();
