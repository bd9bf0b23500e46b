// A new case: the spot clicked on the map or typed in any of the four datums, its category,
// source, risk colour and description, recorded with POST /incidents under an external id the page
// makes once per form (sending it again returns the case already stored); then the case view shows
// whom the rules bound to it and its deadline.
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  const { $, t, label, esc } = GS;
  const DATUMS = ["cgcs2000", "wgs84", "gcj02", "bd09"];
  const state = { open: false, externalId: null, preview: 0 };

  function newExternalId() {
    const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, "0")).join("");
    return `CONSOLE-${Date.now().toString(36).toUpperCase()}-${random}`;
  }

  function select(id, entries, chosen) {
    return `<select id="${id}" required>${entries.map(([code, name]) =>
      `<option value="${esc(code)}"${code === chosen ? " selected" : ""}>${esc(name)}</option>`).join("")}</select>`;
  }

  function form() {
    const categories = Object.keys(GS.words.categories).map((c) => [c, label("category", c)]);
    const sources = Object.keys(GS.words.sources).map((c) => [c, label("source", c)]);
    return `<form id="new-case" autocomplete="off">
      <h2>${esc(t("console.new.title"))}</h2>
      <p class="hint">${esc(t("console.new.hint"))}</p>
      <div class="coords">
        <label>${esc(t("console.new.lon"))} <input id="new-lon" inputmode="decimal" required></label>
        <label>${esc(t("console.new.lat"))} <input id="new-lat" inputmode="decimal" required></label>
        <label>${esc(t("console.new.datum"))} ${select("new-datum", DATUMS.map((d) => [d, t(`console.datum.${d}`)]), CS.map.datum)}</label>
        <button type="button" id="new-show">${esc(t("console.new.show"))}</button>
      </div>
      <p id="new-where" class="hint" aria-live="polite"></p>
      <label>${esc(t("console.new.category"))} ${select("new-category", categories, categories[0]?.[0])}</label>
      <label>${esc(t("console.new.source"))} ${select("new-source", sources, "hotline_12345")}</label>
      <label>${esc(t("console.new.risk"))} ${select("new-risk", ["blue", "yellow", "red"].map((c) => [c, label("risk", c)]), "blue")}</label>
      <label class="wide">${esc(t("console.new.description"))} <textarea id="new-description" rows="3" maxlength="4000"></textarea></label>
      <label>${esc(t("console.new.reporter_name"))} <input id="new-reporter-name" maxlength="100"></label>
      <label>${esc(t("console.new.reporter_phone"))} <input id="new-reporter-phone" maxlength="20" inputmode="tel"></label>
      <div class="row">
        <button type="submit" id="new-submit">${esc(t("console.new.submit"))}</button>
        <button type="button" id="new-cancel">${esc(t("console.new.cancel"))}</button>
      </div>
      <div id="new-error" class="error" role="alert"></div>
    </form>`;
  }

  function point() {
    const lon = Number($("new-lon").value.trim());
    const lat = Number($("new-lat").value.trim());
    if (!$("new-lon").value.trim() || !$("new-lat").value.trim() || !Number.isFinite(lon) || !Number.isFinite(lat)) return null;
    return { lon, lat, crs: $("new-datum").value };
  }

  // Where the point lies (its grid, village and town), as the service finds it.
  async function preview(p) {
    const ticket = ++state.preview;
    $("new-where").textContent = "";
    try {
      const found = await GS.json(`/locate?${new URLSearchParams({ lon: p.lon, lat: p.lat, crs: p.crs })}`);
      if (ticket !== state.preview) return;
      const grid = found.grid || found.nearest_grid;
      const where = [grid?.name, found.village?.name, found.town?.name].filter(Boolean).join(" · ");
      $("new-where").textContent = found.grid ? t("console.new.where", { place: where }) : t("console.case.outside");
    } catch (error) {
      if (ticket === state.preview) $("new-where").textContent = error.message;
    }
  }

  function picked(lon, lat, datum) {
    $("new-lon").value = lon.toFixed(6);
    $("new-lat").value = lat.toFixed(6);
    $("new-datum").value = datum;
    $("new-error").textContent = "";
    CS.map.showPick(lon, lat, datum);
    preview({ lon, lat, crs: datum });
  }

  async function submit(event) {
    event.preventDefault();
    $("new-error").textContent = "";
    const p = point();
    if (!p) {
      $("new-error").textContent = t("console.new.need_point");
      return;
    }
    const body = {
      external_id: state.externalId,
      lon: p.lon, lat: p.lat, crs: p.crs,
      category: $("new-category").value,
      source: $("new-source").value,
      risk_colour: $("new-risk").value,
      reported_at: new Date().toISOString(),
      description: $("new-description").value.trim() || null,
      reporter_name: $("new-reporter-name").value.trim() || null,
      reporter_phone: $("new-reporter-phone").value.trim() || null,
    };
    $("new-submit").disabled = true;
    try {
      const incident = await GS.post("/incidents", body);
      close();
      CS.caseView.render(incident, {
        notice: incident.grid
          ? t("console.case.recorded", { id: incident.id, grid: incident.grid.name })
          : t("console.case.recorded_outside", { id: incident.id }),
      });
      CS.inbox.load();
    } catch (error) {
      $("new-error").textContent = error.message;
      $("new-submit").disabled = false;
    }
  }

  function open() {
    CS.caseView.clear();
    state.open = true;
    state.externalId = newExternalId();
    $("case-view").innerHTML = form();
    CS.map.pick(picked);
    $("new-case").addEventListener("submit", submit);
    $("new-cancel").addEventListener("click", () => { close(); CS.caseView.clear(); });
    $("new-show").addEventListener("click", () => {
      const p = point();
      if (!p) { $("new-error").textContent = t("console.new.need_point"); return; }
      CS.map.showPick(p.lon, p.lat, p.crs, true).catch((error) => { $("new-error").textContent = error.message; });
      preview(p);
    });
    window.consoleNewCaseOpen = true;
  }

  function close() {
    if (!state.open) return;
    state.open = false;
    CS.map.pick(null);
    window.consoleNewCaseOpen = false;
  }

  CS.newCase = { open, close };
})();
