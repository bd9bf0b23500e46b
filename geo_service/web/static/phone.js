// The grid worker's phone page: three tabs (report, the outbox, my cases), whether the phone is
// online, and the service worker that lets the page open with no network once it has been
// loaded. The reporting, the outbox and the cases are phone-report.js, phone-queue.js and
// phone-cases.js.
"use strict";

(function () {
  const { $, t, esc } = GS;
  const TABS = ["report", "queue", "cases"];
  let thumbs = [];

  function showTab(name) {
    for (const tab of TABS) {
      $(`tab-${tab}`).hidden = tab !== name;
      $(`tab-button-${tab}`).setAttribute("aria-selected", String(tab === name));
    }
    if (name === "cases") PhoneCases.load();
  }

  function showNetwork() {
    const online = navigator.onLine;
    const net = $("net");
    net.textContent = t(online ? "phone.net.online" : "phone.net.offline");
    net.className = `net ${online ? "online" : "offline"}`;
  }

  // --- the outbox, as the worker sees it -----------------------------------------------------------

  function photoLine(report) {
    const n = report.photos.length;
    if (!n) return "";
    const sent = report.photos.filter((p) => p.sent).length;
    const refused = report.photos.filter((p) => p.error)
      .map((p) => `<p class="error">${esc(t("phone.queue.photo_refused", { name: p.name, message: p.error }))}</p>`);
    const images = report.photos.filter((p) => p.blob).map((p) => {
      const url = URL.createObjectURL(p.blob);
      thumbs.push(url);
      return `<li><img src="${url}" alt="${esc(p.name)}"></li>`;
    });
    return `${images.length ? `<ul class="thumbs">${images.join("")}</ul>` : ""}
      <p class="hint">${esc(t("phone.queue.photos", { sent, n }))}</p>${refused.join("")}`;
  }

  function reportCard(report) {
    const p = report.position;
    const actions = report.state === "refused"
      ? `<div class="actions"><button type="button" data-retry="${esc(report.id)}">${esc(t("phone.queue.retry"))}</button>
         <button type="button" data-remove="${esc(report.id)}">${esc(t("phone.queue.remove"))}</button></div>`
      : "";
    const error = report.lastError
      ? `<p class="${report.state === "refused" ? "error" : "hint"}">${esc(report.state === "refused" ? report.lastError : t("phone.queue.last_error", { message: report.lastError }))}</p>`
      : "";
    return `
      <li class="card queued state-${esc(report.state)}" data-report="${esc(report.id)}">
        <div class="card-head">
          <span class="state">${esc(t(`phone.queue.state.${report.state}`))}</span>
          <time>${esc(GS.fmt.datetime(report.createdAt))}</time>
          ${report.incidentId ? `<span class="case-id">${esc(t("phone.queue.case", { id: report.incidentId }))}</span>` : ""}
        </div>
        <div class="card-title">${esc(GS.label("category", report.category))}</div>
        <p class="desc">${esc(report.description)}</p>
        <p class="hint">${esc(Number(p.lat).toFixed(5))}, ${esc(Number(p.lon).toFixed(5))} · ${esc(p.crs.toUpperCase())}</p>
        ${photoLine(report)}
        ${error}
        ${actions}
      </li>`;
  }

  async function showQueue() {
    let reports;
    try {
      reports = await PhoneQueue.all();
    } catch (error) {
      $("queue-summary").textContent = error.message;
      return;
    }
    for (const url of thumbs) URL.revokeObjectURL(url);
    thumbs = [];
    const waiting = reports.filter((r) => r.state === "waiting" || r.state === "sending").length;
    const badge = $("queue-badge");
    badge.textContent = String(waiting);
    badge.hidden = waiting === 0;
    $("queue-summary").textContent = waiting ? t("phone.queue.count", { n: waiting }) : t("phone.queue.none");
    $("queue-list").innerHTML = reports.slice().reverse().map(reportCard).join("");
  }

  // --- the service worker ----------------------------------------------------------------------------

  // The page's own files, its words and the signed-in user's last answers are kept by the
  // worker (phone.sw.js), so the page opens, signs in and shows its outbox with no network.
  function startServiceWorker() {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register("/static/phone.sw.js", { scope: "/phone" }).catch(() => { /* the page works without it */ });
    // The first load was not the worker's to see: ask again through it, so it keeps a copy.
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      if (GS.token) GS.api("/auth/me").catch(() => {});
    });
  }

  function forgetUser() {
    navigator.serviceWorker?.controller?.postMessage({ forget: "user" });
  }

  // --- start ---------------------------------------------------------------------------------------

  async function signedIn(me) {
    $("me-name").textContent = me.name;
    $("me-place").textContent = me.jurisdiction.name;
    showNetwork();
    if (!window.phoneStarted) {
      window.phoneStarted = true;
      PhoneReport.start();
      PhoneCases.start();
    }
    await showQueue();
    PhoneQueue.flush();
    window.phoneReady = true; // for the tests: words, categories and the outbox are in place
  }

  function start() {
    for (const button of document.querySelectorAll("#tabs [data-tab]")) {
      button.addEventListener("click", () => showTab(button.dataset.tab));
    }
    $("queue-list").addEventListener("click", async (event) => {
      const { retry, remove } = event.target.dataset;
      if (retry) PhoneQueue.retry(retry);
      if (remove && window.confirm(t("phone.queue.remove_confirm"))) await PhoneQueue.remove(remove);
    });
    PhoneQueue.onChange(showQueue);
    window.addEventListener("online", showNetwork);
    window.addEventListener("offline", showNetwork);
    startServiceWorker();
    GS.start({ rememberOnDevice: true, onSignedIn: signedIn, onSignOut: forgetUser });
  }

  start();
})();
