// The dispatcher's map: the service's style and tiles, a click for "where is this?", a search box.
// The map is drawn in the basemap's datum (config.datum); every conversion is asked of the service.
// Every request to the service carries the signed-in user's bearer token; a 401 anywhere brings
// back the sign-in, and layers the user's role may not see (a 403) leave the map.
"use strict";

const TOKEN_KEY = "geo_service.token";
const state = {
  config: null, datum: "wgs84", map: null, popup: null, hotspots: false,
  token: null, me: null, extent: null, forbidden: new Set(),
};
const $ = (id) => document.getElementById(id);
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// --- the token -----------------------------------------------------------------------------------

function sameOrigin(url) {
  try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
}

// The token goes to this service only, never to a basemap's server.
function withToken(url, options = {}) {
  const headers = new Headers(options.headers || {});
  if (state.token && sameOrigin(url)) headers.set("Authorization", `Bearer ${state.token}`);
  return { ...options, headers };
}

async function api(url, options) {
  const response = await fetch(url, withToken(url, options));
  if (response.status === 401 && state.token) signOut("Your sign-in is no longer accepted: sign in again.");
  return response;
}

function stored() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

function store(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage refused (private mode): the token lives in this page only */ }
}

async function getJSON(url, options) {
  const response = await api(url, options);
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

// The style without the sources the user may not see: those whose layers declare a permission
// the user lacks, and those whose tiles already answered 403.
function allowedStyle(style) {
  const can = new Set(state.me?.permissions || []);
  for (const layer of style.layers || []) {
    const needs = layer.metadata?.["geo_service:permission"];
    if (needs && layer.source && !can.has(needs)) state.forbidden.add(layer.source);
  }
  const sources = Object.fromEntries(Object.entries(style.sources || {}).filter(([id]) => !state.forbidden.has(id)));
  return { ...style, sources, layers: (style.layers || []).filter((l) => !state.forbidden.has(l.source)) };
}

function dropForbidden() {
  const map = state.map;
  if (!map || !map.style) return;
  for (const layer of map.getStyle().layers) if (state.forbidden.has(layer.source)) map.removeLayer(layer.id);
  for (const id of state.forbidden) if (map.getSource(id)) map.removeSource(id);
  if (window.geoMapReady) layerToggles();
}

function mapError(event) {
  const status = event.error?.status;
  if (status === 401) {
    setTimeout(() => signOut("Your sign-in is no longer accepted: sign in again."), 0);  // removes the map
  } else if (status === 403 && event.sourceId) {
    state.forbidden.add(event.sourceId);
    setTimeout(dropForbidden, 0);  // not while MapLibre is still handing out this tile's error
  } else {
    console.error(event.error);
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
  const probe = await api("/analysis/hotspots", { method: "HEAD" }).catch(() => null);
  if (!probe || probe.status === 404) return;
  if (state.map) $("hotspots-toggle").hidden = false;
}

async function showHotspots(on) {
  if (!state.map) return;
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
    if (error.status === 403) {  // the user's role may not see analyses: no toggle for them
      $("hotspots").checked = false;
      $("hotspots-toggle").hidden = true;
      state.hotspots = false;
    }
    $("filter-error").textContent = `hotspots: ${error.message}`;
  }
}

// --- signing in and out ------------------------------------------------------------------------

function showSignIn(message = "") {
  document.body.classList.add("signed-out");
  $("who").hidden = true;
  $("signin-error").textContent = message;
  $("signin-token").value = "";
  $("signin-token").focus();
}

async function signIn(token, remember) {
  $("signin-error").textContent = "";
  let response;
  try {
    response = await fetch("/auth/me", { headers: { Authorization: `Bearer ${token}` } });
  } catch (error) {
    showSignIn(`The service cannot be reached: ${error.message}`);
    return;
  }
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    store(null);
    const reason = body.message || `${response.status} ${response.statusText}`;
    showSignIn(response.status === 401 ? `Not signed in: ${reason}.` : `Cannot sign in: ${reason}`);
    return;
  }
  state.token = token;
  state.me = body;
  store(remember ? token : null);
  $("who-name").textContent = body.name;
  $("who-role").textContent = body.role;
  $("who-jurisdiction").textContent = `${body.jurisdiction.name} (${body.jurisdiction.code || body.jurisdiction.level})`;
  $("who").hidden = false;
  document.body.classList.remove("signed-out");
  try {
    await openMap();
  } catch (error) {
    if (state.token) $("status").textContent = `could not start: ${error.message}`;
  }
}

function signOut(message = "") {
  if (state.token === null && document.body.classList.contains("signed-out")) return;
  state.token = null;
  state.me = null;
  store(null);
  closeMap();
  // The next user starts from their own jurisdiction, not from where this one left the map.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  showSignIn(message);
}

// --- the map -----------------------------------------------------------------------------------

function closeMap() {
  state.popup?.remove();
  state.map?.remove();
  state.map = window.geoMap = null;
  window.geoMapReady = false;
  state.forbidden.clear();
  state.hotspots = false;
  $("hotspots").checked = false;
  $("hotspots-toggle").hidden = true;
  $("layers").innerHTML = "";
  $("lookup").innerHTML = '<p class="hint">Click the map to see the grid, village, officers and cameras there.</p>';
}

async function loadConfig() {
  if (state.config) return state.config;
  const config = await getJSON("/map/config.json");
  state.datum = config.datum;
  checkboxes($("categories"), "category", config.categories);
  checkboxes($("statuses"), "status", config.statuses.map((s) => ({ code: s, name: s })));
  if (config.span) {
    $("filters").elements.start.value = config.span.start;
    $("filters").elements.end.value = config.span.end;
  }
  $("status").textContent = `drawn in ${config.datum.toUpperCase()}${config.basemap ? " over the basemap" : ", no basemap"}`;
  return (state.config = config);
}

async function openMap() {
  closeMap();
  await loadConfig();
  // Where the map opens: the user's town, village or grid (null for the whole county).
  state.extent = await getJSON(`/map/extent?datum=${state.datum}`);
  if (!state.token) return;  // signed out meanwhile
  // A position in the address (a shared link, a reload) wins; MapLibre writes one soon after the
  // style loads, so look now.
  const placed = Boolean(location.hash);

  const map = state.map = window.geoMap = new maplibregl.Map({
    container: "map",
    // CJK text would be drawn with the browser's own fonts; the styles use no text, so no glyphs are served.
    localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
    hash: true,
    maxZoom: 20,
    attributionControl: { compact: true },
    // The style, TileJSON and tiles come from this service: they carry the token (a basemap does
    // not). A tile holds what its user may see, so the browser's copy is revalidated (the service's
    // ETag names the user's jurisdiction): the next user of a shared computer gets their own tiles.
    transformRequest: (url) => (sameOrigin(url) && state.token
      ? { url, headers: { Authorization: `Bearer ${state.token}` }, cache: "no-cache" } : { url }),
  });
  map.setStyle(styleUrl(), { transformStyle: (previous, next) => allowedStyle(next) });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
  map.on("error", mapError);

  map.once("load", () => {
    const style = map.getStyle();
    if (!placed) {
      if (state.extent?.bbox) map.fitBounds(state.extent.bbox, { padding: 24, animate: false });
      else if (style.center) map.jumpTo({ center: style.center, zoom: style.zoom || 9 });
    }
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
  offerHotspots();
}

// --- start -------------------------------------------------------------------------------------

function start() {
  $("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("signin-token").value.trim();
    if (token) signIn(token, $("signin-remember").checked);
  });
  $("sign-out").addEventListener("click", () => signOut("Signed out."));
  $("hotspots").addEventListener("change", () => showHotspots($("hotspots").checked));
  $("search").addEventListener("submit", search);
  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("filter-error").textContent = "";
    if (!state.map) return;
    try {
      await getJSON(styleUrl());  // the service checks the filters (a 422 names the field)
      state.map.setStyle(styleUrl(), { transformStyle: (previous, next) => allowedStyle(next) });
      state.map.once("styledata", () => { if (state.hotspots) showHotspots(true); });
    } catch (error) {
      $("filter-error").textContent = error.message;
    }
  });
  const token = stored();
  if (token) signIn(token, true);
  else showSignIn();
}

start();
