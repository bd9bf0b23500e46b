// Reporting an incident from the phone: where (the phone's own position in WGS84; failing that,
// where the photo was taken, as the service reads it from the photo; failing that, a position
// typed in a datum the worker names), what (a category and a description) and photos from the
// camera. The report goes into the phone's outbox (phone-queue.js), which sends it.
"use strict";

(function () {
  const { $, t, esc } = GS;
  const state = { position: null, photos: [], urls: [], photoPositions: new Map() };

  const fixed = (n) => Number(n).toFixed(5);

  function say(text, kind = "") {
    const box = $("report-message");
    box.textContent = text;
    box.className = `message ${kind}`;
  }

  function showPosition() {
    const p = state.position;
    const status = $("position-status");
    status.classList.toggle("ok", !!p);
    status.classList.toggle("warn", !p);
    if (!p) return;
    if (p.how === "gps") {
      status.textContent = t("phone.report.located", { lat: fixed(p.lat), lon: fixed(p.lon), accuracy: Math.round(p.accuracy || 0) });
    } else if (p.how === "photo") {
      status.textContent = t("phone.report.using_photo", { lat: fixed(p.lat), lon: fixed(p.lon) });
    }
  }

  function reason(error) {
    return { 1: t("phone.report.denied"), 2: t("phone.report.unavailable"), 3: t("phone.report.timeout") }[error.code] || error.message;
  }

  // The phone's position: asked afresh when the page opens, after each report and on request.
  function locate() {
    if (state.position && state.position.how === "gps") state.position = null;
    if (!navigator.geolocation) { noPosition(t("phone.report.no_geolocation")); return; }
    const status = $("position-status");
    status.textContent = t("phone.report.locating");
    status.className = "position-status";
    navigator.geolocation.getCurrentPosition(
      (found) => {
        const { longitude, latitude, accuracy } = found.coords;
        state.position = { lon: longitude, lat: latitude, crs: "wgs84", how: "gps", accuracy };
        $("use-photo-position").hidden = true;
        if (!$("typed-lon").value.trim() && !$("typed-lat").value.trim()) $("typed-position").hidden = true;
        showPosition();
      },
      (error) => noPosition(reason(error)),
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 60000 },
    );
  }

  function noPosition(why) {
    if (state.position) return; // a photo's or a typed position stays
    const status = $("position-status");
    status.textContent = t("phone.report.no_position", { reason: why });
    status.className = "position-status warn";
    offerPhotoPosition();
  }

  // Without the phone's position, ask the service where the photos were taken (it reads their
  // EXIF) and offer the first position found; offline, or with none, the worker types one.
  async function offerPhotoPosition() {
    const button = $("use-photo-position");
    button.hidden = true;
    if (state.position || !state.photos.length) return;
    for (const photo of state.photos) {
      let position = state.photoPositions.get(photo);
      if (position === undefined) {
        const form = new FormData();
        form.append("file", photo, photo.name || "photo.jpg");
        try {
          position = (await GS.json("/attachments/position", { method: "POST", body: form })).position;
        } catch (error) {
          if (error.status === undefined) { say(t("phone.report.photo_position_offline"), "warn"); showTyped(); return; }
          position = null; // not a photo the service reads: try the next
        }
        state.photoPositions.set(photo, position);
      }
      if (position && !state.position) {
        button.textContent = t("phone.report.photo_position", { lat: fixed(position.lat), lon: fixed(position.lon) });
        button.onclick = () => {
          state.position = { ...position, how: "photo" };
          button.hidden = true;
          $("typed-position").hidden = true;
          showPosition();
        };
        button.hidden = false;
        return;
      }
    }
    say(t("phone.report.photo_position_none"), "warn");
    showTyped();
  }

  function showTyped() {
    $("typed-position").hidden = false;
  }

  // The position typed, or null with the reason shown.
  function typedPosition() {
    const read = (id) => Number(String($(id).value).trim().replace("，", ".").replace(",", "."));
    const lon = read("typed-lon"), lat = read("typed-lat");
    const blank = !$("typed-lon").value.trim() && !$("typed-lat").value.trim();
    if (blank) return null;
    if (!Number.isFinite(lon) || !Number.isFinite(lat) || Math.abs(lon) > 180 || Math.abs(lat) > 90) {
      throw new Error(t("phone.report.bad_position"));
    }
    return { lon, lat, crs: $("typed-crs").value, how: "typed" };
  }

  function renderPhotos() {
    for (const url of state.urls) URL.revokeObjectURL(url);
    state.urls = state.photos.map((photo) => URL.createObjectURL(photo));
    $("photo-previews").innerHTML = state.photos.map((photo, i) => `
      <li><img src="${state.urls[i]}" alt="${esc(photo.name)}">
        <button type="button" class="small" data-remove="${i}">${esc(t("phone.report.remove_photo"))}</button></li>`).join("");
  }

  function fillCategories() {
    const select = $("category");
    const options = Object.entries(GS.words.categories).map(([code, name]) => `<option value="${esc(code)}">${esc(name)}</option>`);
    select.innerHTML = `<option value="">${esc(t("phone.report.choose_category"))}</option>${options.join("")}`;
  }

  async function submit(event) {
    event.preventDefault();
    let position = state.position;
    try {
      if (!$("typed-position").hidden) position = typedPosition() || position; // what is typed wins
    } catch (error) {
      say(error.message, "error");
      return;
    }
    const category = $("category").value;
    const description = $("description").value.trim();
    const missing = !position ? "need_position" : !category ? "need_category" : !description ? "need_description" : null;
    if (missing) { say(t(`phone.report.${missing}`), "error"); return; }
    const button = $("submit-report");
    button.disabled = true;
    try {
      await PhoneQueue.add({ category, description, position: { lon: position.lon, lat: position.lat, crs: position.crs, how: position.how }, photos: state.photos });
    } catch (error) {
      say(t("phone.report.not_saved", { message: error.message }), "error");
      return;
    } finally {
      button.disabled = false;
    }
    say(t(navigator.onLine ? "phone.report.sending" : "phone.report.queued"), "ok");
    $("description").value = "";
    $("category").value = "";
    $("typed-lon").value = $("typed-lat").value = "";
    state.photos = [];
    state.photoPositions = new Map();
    renderPhotos();
    if (state.position && state.position.how !== "gps") state.position = null;
    locate();
  }

  function start() {
    fillCategories();
    for (const input of document.querySelectorAll("#report-form .photo-input")) {
      input.addEventListener("change", (event) => {
        state.photos.push(...event.target.files);
        event.target.value = "";
        renderPhotos();
        if (!state.position && $("position-status").classList.contains("warn")) offerPhotoPosition();
      });
    }
    $("photo-previews").addEventListener("click", (event) => {
      const index = event.target.dataset.remove;
      if (index === undefined) return;
      state.photos.splice(Number(index), 1);
      renderPhotos();
    });
    $("locate-again").addEventListener("click", locate);
    $("type-position").addEventListener("click", () => {
      showTyped();
      $("typed-lon").focus();
    });
    $("report-form").addEventListener("submit", submit);
    locate();
  }

  window.PhoneReport = { start, locate };
})();
