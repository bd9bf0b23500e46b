// The dispatcher's map: the service's style and tiles, a click for "where is this?", a search box.
// The map is drawn in the basemap's datum (config.datum); every conversion is asked of the service.
"use strict";

const state = { config: null, datum: "wgs84", map: null, popup: null, hotspots: false };
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function getJSON(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.message || body.detail?.[0]?.msg || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function filterQuery() {
  const form = new FormData($("filters"));
  const query = new URLSearchParams();
  for (const name of ["start", "end"]) if (form.get(name)) query.set(name, form.get(name));
  for (const name of ["category", "status"]) {
    const all = document.querySelectorAll(`input[name=${name}]`);
    const checked = [...all].filter((box) => box.checked).map((box) => box.value);
    if (checked.length && checked.length < all.length) query.set(name, checked.join(","));
  }
  return query;
}

function styleUrl() {
  const query = filterQuery();
  query.set("datum", state.datum);
  return `/tiles/style.json?${query}`;
}

function checkboxes(fieldset, name, items) {
  for (const item of items) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" name="${name}" value="${esc(item.code)}" checked> ${esc(item.name)}`;
    fieldset.appendChild(label);
  }
}

// --- layers ------------------------------------------------------------------------------------

function layerToggles() {
  const groups = new Map();
  for (const layer of state.map.getStyle().layers) {
    const name = layer.metadata?.["geo_service:layer"];
    if (!name) continue;
    if (!groups.has(name)) groups.set(name, { title: layer.metadata["geo_service:title"], ids: [] });
    groups.get(name).ids.push(layer.id);
  }
  const box = $("layers");
  const wasHidden = new Set([...box.querySelectorAll("input:not(:checked)")].map((i) => i.value));
  box.innerHTML = "";
  for (const [name, group] of groups) {
    const label = document.createElement("label");
    label.innerHTML = `<input type="checkbox" value="${esc(name)}" ${wasHidden.has(name) ? "" : "checked"}> ${esc(group.title)}`;
    const input = label.querySelector("input");
    const apply = () => group.ids.forEach((id) => state.map.setLayoutProperty(id, "visibility", input.checked ? "visible" : "none"));
    input.addEventListener("change", apply);
    if (!input.checked) apply();
    box.appendChild(label);
  }
}

function tooltipLayers() {
  return state.map.getStyle().layers.filter((l) => l.metadata?.["geo_service:tooltip"]?.length).map((l) => l.id);
}

function describe(feature) {
  const fields = feature.layer.metadata?.["geo_service:tooltip"] || [];
  const rows = fields.map((f) => `<tr><th>${esc(f)}</th><td>${esc(f === "id" ? feature.id : feature.properties[f])}</td></tr>`);
  return `<b>${esc(feature.layer.metadata?.["geo_service:title"] || feature.sourceLayer)}</b><table>${rows.join("")}</table>`;
}

// --- where is this? ----------------------------------------------------------------------------

function renderLookup(result, extra = "") {
  const officers = (result.officers || []).map((o) =>
    `<tr><td>${esc(o.role_name || o.role)}</td><td class="${o.vacant ? "vacant" : ""}">${o.vacant ? "vacant" : esc(o.name)}</td><td>${esc(o.phone || "")}</td></tr>`);
  const cameras = (result.cameras || []).slice(0, 8).map((c) =>
    `<tr><td>${esc(c.name)}</td><td class="${c.sees ? "sees" : ""}">${c.sees ? "sees it" : "near"}</td><td>${esc(c.status)}, ${esc(c.distance_m)} m</td></tr>`);
  const grid = result.grid || result.nearest_grid;
  const where = grid
    ? `<p><b>${esc(grid.name)}</b><br>grid <code id="lookup-grid">${esc(grid.code)}</code> (level ${esc(grid.level)})${result.grid ? "" : `, nearest: ${esc(grid.distance_m)} m away`}<br>
       ${esc(result.village?.name)} · ${esc(result.town?.name)} · ${esc(result.county?.name)}</p>`
    : "<p>No grid here.</p>";
  $("lookup").innerHTML = `${extra}<h2>Where is this</h2>${where}
    <p class="hint">${result.point.lon.toFixed(6)}, ${result.point.lat.toFixed(6)} (CGCS2000) · boundaries: ${esc(result.boundary_version?.name)}</p>
    <h2>Officers to call</h2><table>${officers.join("") || "<tr><td>none</td></tr>"}</table>
    <h2>Cameras</h2><table>${cameras.join("") || "<tr><td>none near</td></tr>"}</table>`;
}

async function lookup(lon, lat, crs, lngLat, extra = "") {
  try {
    const result = await getJSON(`/locate?lon=${lon}&lat=${lat}&crs=${crs}`);
    renderLookup(result, extra);
    const grid = result.grid || result.nearest_grid;
    state.popup?.remove();
    state.popup = new maplibregl.Popup({ closeOnClick: true })
      .setLngLat(lngLat)
      .setHTML(`<b>${esc(grid?.name || "outside the grids")}</b><br>${esc(grid?.code || "")}<br>${esc(result.village?.name || "")}`)
      .addTo(state.map);
    return result;
  } catch (error) {
    $("lookup").innerHTML = `${extra}<p class="error">${esc(error.message)}</p>`;
    return null;
  }
}

// The display datum's coordinates of a point given in `crs` (the service converts).
async function toDisplay(lon, lat, crs) {
  if (crs === state.datum || (crs === "cgcs2000" && state.datum === "wgs84")) return [lon, lat];
  const p = await getJSON(`/map/convert?lon=${lon}&lat=${lat}&from=${crs}&to=${state.datum}`);
  return [p.lon, p.lat];
}

async function search(event) {
  event.preventDefault();
  $("search-error").textContent = "";
  const q = $("search-text").value.trim();
  try {
    const id = q.match(/^#?\s*(\d+)$/);
    if (id) {
      const incident = await getJSON(`/incidents/${id[1]}`);
      const { lon, lat } = incident.location;
      const at = await toDisplay(lon, lat, "cgcs2000");
      state.map.flyTo({ center: at, zoom: 17 });
      const extra = `<h2>Incident ${esc(incident.id)}</h2><p>${esc(incident.category)} · ${esc(incident.status)} · ${esc(incident.risk_colour)}<br>
        reported ${esc(incident.reported_at)}<br>${esc(incident.description || "")}</p>`;
      await lookup(lon, lat, "cgcs2000", at, extra);
      return;
    }
    const numbers = q.split(/[\s,;，]+/).filter(Boolean).map(Number);
    if (numbers.length !== 2 || numbers.some(Number.isNaN)) {
      throw new Error("type two numbers, longitude then latitude (e.g. 104.07, 30.00), or an incident id (#12345)");
    }
    const crs = $("search-datum").value;
    const at = await toDisplay(numbers[0], numbers[1], crs);
    state.map.flyTo({ center: at, zoom: 16 });
    await lookup(numbers[0], numbers[1], crs, at);
  } catch (error) {
    $("search-error").textContent = error.message;
  }
}

// --- hotspots (the analysis service's, when it has them) --------------------------------------

const HOTSPOT_COLOURS = ["match", ["get", "class"], "hot 99%", "#b2182b", "hot 95%", "#ef8a62", "hot 90%", "#fddbc7",
  "cold 99%", "#2166ac", "cold 95%", "#67a9cf", "cold 90%", "#d1e5f0", "rgba(0,0,0,0)"];

async function offerHotspots() {
  // A HEAD on a GET-only route answers 405; 404 means the service has no hotspots to offer.
  const probe = await fetch("/analysis/hotspots", { method: "HEAD" }).catch(() => null);
  if (!probe || probe.status === 404) return;
  $("hotspots-toggle").hidden = false;
  $("hotspots").addEventListener("change", () => showHotspots($("hotspots").checked));
}

async function showHotspots(on) {
  state.hotspots = on;
  for (const id of ["hotspots-fill", "hotspots-circle"]) if (state.map.getLayer(id)) state.map.removeLayer(id);
  if (state.map.getSource("hotspots")) state.map.removeSource("hotspots");
  if (!on) return;
  const query = filterQuery();
  query.delete("category"); query.delete("status");
  try {
    let data = await getJSON(`/analysis/hotspots?${query}`);
    if (state.datum !== "wgs84") {
      data = await getJSON(`/map/convert?from=cgcs2000&to=${state.datum}`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(data) });
    }
    state.map.addSource("hotspots", { type: "geojson", data });
    state.map.addLayer({ id: "hotspots-fill", type: "fill", source: "hotspots", filter: ["==", ["geometry-type"], "Polygon"],
      paint: { "fill-color": HOTSPOT_COLOURS, "fill-opacity": 0.6 } });
    state.map.addLayer({ id: "hotspots-circle", type: "circle", source: "hotspots", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": HOTSPOT_COLOURS, "circle-radius": 6 } });
  } catch (error) {
    $("filter-error").textContent = `hotspots: ${error.message}`;
  }
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  const config = state.config = await getJSON("/map/config.json");
  state.datum = config.datum;
  checkboxes($("categories"), "category", config.categories);
  checkboxes($("statuses"), "status", config.statuses.map((s) => ({ code: s, name: s })));
  if (config.span) {
    $("filters").elements.start.value = config.span.start;
    $("filters").elements.end.value = config.span.end;
  }
  $("status").textContent = `drawn in ${config.datum.toUpperCase()}${config.basemap ? " over the basemap" : ", no basemap"}`;

  const map = state.map = window.geoMap = new maplibregl.Map({
    container: "map",
    style: styleUrl(),
    // CJK text would be drawn with the browser's own fonts; the styles use no text, so no glyphs are served.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
    hash: true,
    maxZoom: 20,
    attributionControl: { compact: true },
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");

  map.once("load", () => {
    const style = map.getStyle();
    if (!location.hash && style.center) map.jumpTo({ center: style.center, zoom: style.zoom || 9 });
    layerToggles();
    window.geoMapReady = true;
  });
  map.on("styledata", () => { if (window.geoMapReady) layerToggles(); });

  const hover = new maplibregl.Popup({ closeButton: false, closeOnClick: false });
  map.on("mousemove", (e) => {
    const [feature] = map.queryRenderedFeatures(e.point, { layers: tooltipLayers().filter((id) => map.getLayer(id)) })
      .filter((f) => f.layer.type === "circle");
    if (feature) hover.setLngLat(e.lngLat).setHTML(describe(feature)).addTo(map);
    else hover.remove();
  });
  map.on("click", (e) => {
    hover.remove();
    const { lng, lat } = e.lngLat;
    const [incident] = map.queryRenderedFeatures(e.point).filter((f) => f.sourceLayer === "incidents");
    const extra = incident ? `<h2>Incident ${esc(incident.id)}</h2><p>${esc(incident.properties.category)} · ${esc(incident.properties.status)} · ${esc(incident.properties.reported_at)}</p>` : "";
    lookup(lng, lat, state.datum, e.lngLat, extra);
  });

  $("search").addEventListener("submit", search);
  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("filter-error").textContent = "";
    try {
      await getJSON(styleUrl());  // the service checks the filters (a 422 names the field)
      map.setStyle(styleUrl());
      map.once("styledata", () => { if (state.hotspots) showHotspots(true); });
    } catch (error) {
      $("filter-error").textContent = error.message;
    }
  });
  offerHotspots();
}

start().catch((error) => { $("status").textContent = `could not start: ${error.message}`; });
