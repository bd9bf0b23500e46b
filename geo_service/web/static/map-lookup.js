// What the map page writes about a place and what is on it: the lookup panel (grid, village, town,
// officers to call, cameras that see the spot), the popup of a click, an incident's summary and
// the hover tooltip of a point. Every word is the catalogue's (GS.t) and every code is shown by its
// label (GS.label): nothing here is English of its own. Loaded after common.js, before map.js.
"use strict";

window.MapLookup = (function () {
  const { esc, t, label, fmt } = GS;
  let config = { camera_kinds: [] };

  // A name the map's configuration carries in both languages (camera kinds).
  function named(list, code) {
    const item = (list || []).find((entry) => entry.code === code);
    if (!item) return code ?? "";
    return (GS.language === "en" ? item.name_en : item.name) || item.name || code;
  }

  // The tiles give local wall-clock times of the county ("2026-03-01T14:05", no zone: the layer
  // converts them in SQL). Formatting them as UTC keeps the clock as it is, whatever the browser's
  // own zone, in the same words GS.fmt.datetime uses for a moment.
  function wallClock(text) {
    if (!text || !/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(text)) return text ?? "";
    return new Intl.DateTimeFormat(GS.language === "zh" ? "zh-CN" : "en-GB", {
      timeZone: "UTC", year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).format(new Date(`${text.slice(0, 16)}:00Z`));
  }

  // How a property of a tile's feature is shown in a tooltip: codes by their labels.
  const VALUES = {
    category: (v) => label("category", v),
    status: (v, layer) => label(layer === "cameras" || layer === "camera_sectors" ? "camera" : "status", v),
    risk_colour: (v) => label("risk", v),
    source: (v) => label("source", v),
    kind: (v, layer) => (layer.startsWith("camera") ? named(config.camera_kinds, v) : word(`map.grid_kind.${v}`, v)),
    reported_at: (v) => wallClock(v),
    count: (v) => fmt.number(v),
  };

  // The catalogue's word for `key`, or `fallback` where it has none (a layer declared since).
  function word(key, fallback) {
    const text = t(key);
    return text === key ? fallback : text;
  }

  const fieldName = (field) => word(`map.field.${field}`, field);

  function describe(feature) {
    const layer = feature.layer.metadata?.["geo_service:layer"] || feature.sourceLayer || "";
    const fields = feature.layer.metadata?.["geo_service:tooltip"] || [];
    const rows = fields.map((f) => {
      const raw = f === "id" ? feature.id : feature.properties[f];
      const value = VALUES[f] ? VALUES[f](raw, layer) : raw;
      return `<tr><th>${esc(fieldName(f))}</th><td>${esc(value)}</td></tr>`;
    });
    return `<b>${esc(feature.layer.metadata?.["geo_service:title"] || feature.sourceLayer)}</b><table>${rows.join("")}</table>`;
  }

  function riskLabel(colour) {
    return colour ? `<span class="risk-${esc(colour)}">${esc(label("risk", colour))}</span>` : "";
  }

  // An incident as the service's API gives it (GET /incidents/{id}): reported_at is a moment,
  // shown in the county's time.
  function incident(item) {
    return `<h2>${esc(t("map.lookup.incident", { id: item.id }))}</h2>
      <p>${esc(label("category", item.category))} · ${esc(label("status", item.status))} · ${riskLabel(item.risk_colour)}<br>
      <span class="reported">${esc(t("map.lookup.reported", { when: fmt.datetime(item.reported_at) }))}</span><br>${esc(item.description || "")}</p>`;
  }

  // An incident as a tile carries it (its reported_at already the county's wall clock).
  function tileIncident(feature) {
    const p = feature.properties;
    return `<h2>${esc(t("map.lookup.incident", { id: feature.id }))}</h2>
      <p>${esc(label("category", p.category))} · ${esc(label("status", p.status))} · ${riskLabel(p.risk_colour)}<br>
      <span class="reported">${esc(t("map.lookup.reported", { when: wallClock(p.reported_at) }))}</span></p>`;
  }

  function where(result) {
    const grid = result.grid || result.nearest_grid;
    if (!grid) return `<p>${esc(t("map.lookup.no_grid"))}</p>`;
    const about = [t("map.lookup.level", { level: grid.level })];
    if (grid.kind) about.push(word(`map.grid_kind.${grid.kind}`, grid.kind));
    const nearest = result.grid ? "" : `<br><span class="hint">${esc(t("map.lookup.nearest", { distance: fmt.number(grid.distance_m, 0) }))}</span>`;
    const places = [result.village?.name, result.town?.name, result.county?.name].filter(Boolean).map(esc).join(" · ");
    return `<p><b>${esc(grid.name)}</b><br>${esc(t("map.lookup.grid"))} <code id="lookup-grid">${esc(grid.code)}</code>${esc(t("map.lookup.about", { what: about.join(" · ") }))}${nearest}<br>${places}</p>`;
  }

  function officers(result) {
    const rows = (result.officers || []).map((o) => `<tr><td>${esc(label("role", o.role))}</td>
      <td class="${o.vacant ? "vacant" : ""}">${o.vacant ? esc(t("map.lookup.vacant")) : esc(o.name)}</td><td>${esc(o.phone || "")}</td></tr>`);
    return rows.join("") || `<tr><td>${esc(t("map.lookup.no_officers"))}</td></tr>`;
  }

  function cameras(result) {
    const rows = (result.cameras || []).slice(0, 8).map((c) => `<tr><td>${esc(c.name)}</td>
      <td class="${c.sees ? "sees" : ""}">${esc(t(c.sees ? "map.lookup.sees" : "map.lookup.near"))}</td>
      <td>${esc(t("map.lookup.camera", { status: label("camera", c.status), distance: t("map.lookup.distance", { distance: fmt.number(c.distance_m, 0) }) }))}</td></tr>`);
    return rows.join("") || `<tr><td>${esc(t("map.lookup.no_cameras"))}</td></tr>`;
  }

  // The panel for a GET /locate answer, below `extra` (an incident's summary, already HTML).
  function panel(result, extra = "") {
    const point = t("map.lookup.point", {
      lon: result.point.lon.toFixed(6), lat: result.point.lat.toFixed(6), version: result.boundary_version?.name ?? "",
    });
    return `${extra}<h2>${esc(t("map.lookup.where"))}</h2>${where(result)}
      <p class="hint">${esc(point)}</p>
      <h2>${esc(t("map.lookup.officers"))}</h2><table>${officers(result)}</table>
      <h2>${esc(t("map.lookup.cameras"))}</h2><table>${cameras(result)}</table>`;
  }

  function popup(result) {
    const grid = result.grid || result.nearest_grid;
    return `<b>${esc(grid?.name || t("map.lookup.outside"))}</b><br>${esc(grid?.code || "")}<br>${esc(result.village?.name || "")}`;
  }

  function hint() {
    return `<p class="hint">${esc(t("map.lookup.hint"))}</p>`;
  }

  // MapLibre's own words (its controls' titles, the scale bar's units), in the reader's language.
  function maplibreLocale() {
    return {
      "NavigationControl.ZoomIn": t("map.maplibre.zoom_in"),
      "NavigationControl.ZoomOut": t("map.maplibre.zoom_out"),
      "NavigationControl.ResetBearing": t("map.maplibre.reset_bearing"),
      "AttributionControl.ToggleAttribution": t("map.maplibre.toggle_attribution"),
      "Popup.Close": t("map.maplibre.close_popup"),
      "ScaleControl.Meters": t("map.maplibre.metres"),
      "ScaleControl.Kilometers": t("map.maplibre.kilometres"),
      "Map.Title": t("map.maplibre.map"),
    };
  }

  return {
    describe, incident, tileIncident, panel, popup, hint, maplibreLocale, wallClock,
    configure(value) { config = value; },
  };
})();
