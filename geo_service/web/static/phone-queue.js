// The phone's outbox: every report is first kept on the phone (IndexedDB, its photos as blobs),
// then sent when the network allows: at once, when the browser says it is back online, and on a
// timer. A report carries an id made on the phone (its external_id): the service stores a report
// once however often it is posted, and a photo once per case however often it is uploaded, so a
// send cut off half-way is simply taken up again. Each step's result is written back before the
// next, and one tab at a time sends (Web Locks), so nothing is sent twice by the phone either.
"use strict";

(function () {
  const DB_NAME = "geo_service.phone";
  const STORE = "reports";
  const LOCK = "geo_service.phone.outbox";
  const RETRY_MS = 15000;
  const KEEP_SENT = 20; // sent reports kept on the list, newest first, without their photos
  const listeners = [];
  let dbPromise = null;
  let flushing = false;
  let again = false;
  let timer = null;

  // --- storage -----------------------------------------------------------------------------------

  function open() {
    if (dbPromise) return dbPromise;
    dbPromise = new Promise((resolve, reject) => {
      if (!window.indexedDB) { reject(new Error(GS.t("phone.queue.no_storage"))); return; }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, { keyPath: "id" });
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    return dbPromise;
  }

  async function tx(mode, work) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, mode);
      const store = transaction.objectStore(STORE);
      let result;
      Promise.resolve(work(store)).then((r) => { result = r; });
      transaction.oncomplete = () => resolve(result);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  }

  const request = (r) => new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
  const put = (report) => tx("readwrite", (store) => request(store.put(report)));
  const remove = (id) => tx("readwrite", (store) => request(store.delete(id))).then(changed);
  const get = (id) => tx("readonly", (store) => request(store.get(id)));

  // Every report kept, the oldest first (the order they are sent in).
  async function all() {
    const reports = await tx("readonly", (store) => request(store.getAll()));
    return reports.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  // An id for the report, made on the phone. crypto.randomUUID needs a secure context (https, or
  // the loopback): elsewhere a version-4 UUID from getRandomValues, which every browser has.
  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // Keep a new report: {category, description, position: {lon, lat, crs, how}, photos: [File]}.
  async function add({ category, description, position, photos }) {
    const now = new Date().toISOString();
    const report = {
      id: newId(),
      createdAt: now,
      reportedAt: now,
      category,
      description,
      position,
      photos: photos.map((file) => ({ name: file.name || "photo.jpg", type: file.type, blob: file, sent: false, error: null })),
      state: "waiting",
      incidentId: null,
      attempts: 0,
      lastError: null,
    };
    await put(report);
    changed();
    flush();
    return report;
  }

  // --- sending -----------------------------------------------------------------------------------

  class Offline extends Error {}

  // A request's answer, or Offline when it did not reach the service (no network, a timeout, or
  // an answer the service did not give: a captive portal, a proxy's error page).
  async function send(url, options) {
    let response;
    try {
      response = await GS.api(url, options);
    } catch (error) {
      throw new Offline(GS.t("common.error.network"));
    }
    const body = await response.json().catch(() => null);
    if (body === null) throw new Offline(GS.t("common.error.status", { status: response.status }));
    return { status: response.status, body };
  }

  // The service will not take it as it is (its own message says why): a 4xx other than a missing
  // sign-in or a rate limit, which are passing.
  const refusal = (status) => status >= 400 && status < 500 && status !== 401 && status !== 408 && status !== 429;

  async function sendReport(report) {
    report.attempts += 1;
    report.state = "sending";
    await put(report);
    changed();
    if (!report.incidentId) {
      const { status, body } = await send("/incidents", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          external_id: report.id,
          lon: report.position.lon,
          lat: report.position.lat,
          crs: report.position.crs,
          category: report.category,
          source: "grid_app",
          reported_at: report.reportedAt,
          description: report.description,
        }),
      });
      if (refusal(status)) return settle(report, "refused", body.message || GS.t("common.error.status", { status }));
      if (status !== 200 && status !== 201) return settle(report, "waiting", body.message || GS.t("common.error.status", { status }));
      report.incidentId = body.id;
      await put(report);
    }
    for (const photo of report.photos) {
      if (photo.sent || photo.error || !photo.blob) continue;
      const form = new FormData();
      form.append("file", photo.blob, photo.name);
      const { status, body } = await send(`/attachments/incidents/${report.incidentId}`, { method: "POST", body: form });
      if (refusal(status)) {
        photo.error = body.message || GS.t("common.error.status", { status });
      } else if (status === 200 || status === 201) {
        photo.sent = true;
        photo.attachmentId = body.id;
      } else {
        return settle(report, "waiting", body.message || GS.t("common.error.status", { status }));
      }
      await put(report);
    }
    // Sent: the photos' bytes are on the service now and need not fill the phone.
    report.photos = report.photos.map((p) => ({ ...p, blob: p.sent ? null : p.blob }));
    report.sentAt = new Date().toISOString();
    return settle(report, "sent", null);
  }

  async function settle(report, state, message) {
    report.state = state;
    report.lastError = message;
    await put(report);
    changed();
    return state;
  }

  // Send what is waiting, the oldest first; stop at the first sign the network is gone.
  async function flush() {
    if (flushing) { again = true; return; } // a report added while sending: one more round after
    flushing = true;
    again = false;
    try {
      if (navigator.locks) {
        await navigator.locks.request(LOCK, { ifAvailable: true }, async (lock) => { if (lock) await sendAll(); });
      } else {
        await sendAll();
      }
    } finally {
      flushing = false;
      if (again) flush(); else schedule();
    }
  }

  async function sendAll() {
    for (const report of await all()) {
      if (report.state !== "waiting" && report.state !== "sending") continue;
      try {
        await sendReport(report);
      } catch (error) {
        await settle(report, "waiting", error.message);
        if (error instanceof Offline) break;
      }
    }
    await prune();
  }

  async function prune() {
    const sent = (await all()).filter((r) => r.state === "sent").sort((a, b) => b.sentAt.localeCompare(a.sentAt));
    for (const old of sent.slice(KEEP_SENT)) await tx("readwrite", (store) => request(store.delete(old.id)));
  }

  // While anything waits, try again every RETRY_MS.
  async function schedule() {
    const waiting = (await all()).some((r) => r.state === "waiting" || r.state === "sending");
    if (waiting && !timer) timer = setInterval(flush, RETRY_MS);
    if (!waiting && timer) { clearInterval(timer); timer = null; }
  }

  async function retry(id) {
    const report = await get(id);
    if (!report) return;
    report.state = "waiting";
    report.lastError = null;
    report.photos = report.photos.map((p) => ({ ...p, error: null }));
    await put(report);
    changed();
    flush();
  }

  function changed() {
    for (const listener of listeners) listener();
  }

  window.addEventListener("online", () => flush());

  window.PhoneQueue = {
    add, all, remove, retry, flush,
    onChange(listener) { listeners.push(listener); },
    get flushing() { return flushing; },
  };
})();
