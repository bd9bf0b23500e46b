// The dispatcher's map: the service's style and tiles, a click for "where is this?", a search box.
// The map is drawn in the basemap's datum (config.datum); every conversion is asked of the service.
// Sign-in, the token, the reader's language and its words are common.js's (window.GS): every
// request to the service carries the signed-in user's token, a 401 anywhere brings back the
// sign-in, and layers the user's role may not see (a 403) leave the map. What the panel writes
// about a place is map-lookup.js's (window.MapLookup).
"use strict";

(function () {
  const { $, t, label } = GS;
  const state = {
    config: null, datum: "wgs84", map: null, popup: null, hotspots: false, extent: null, forbidden: new Set(),
  };

  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
  }

  const expired = () => { if (GS.token) GS.signOut(t("common.signin.expired")); };

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

  // The style names its layers in the reader's language (the layers' titles are data).
  function styleUrl() {
    const query = filterQuery();
    query.set("datum", state.datum);
    query.set("lang", GS.language);
    return `/tiles/style.json?${query}`;
  }

  function checkboxes(fieldset, name, items) {
    for (const item of items) {
      const box = document.createElement("label");
      box.innerHTML = `<input type="checkbox" name="${name}" value="${GS.esc(item.code)}" checked> ${GS.esc(item.name)}`;
      fieldset.appendChild(box);
    }
  }

  // --- layers ----------------------------------------------------------------------------------

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
      const row = document.createElement("label");
      row.innerHTML = `<input type="checkbox" value="${GS.esc(name)}" ${wasHidden.has(name) ? "" : "checked"}> ${GS.esc(group.title)}`;
      const input = row.querySelector("input");
      const apply = () => group.ids.forEach((id) => state.map.setLayoutProperty(id, "visibility", input.checked ? "visible" : "none"));
      input.addEventListener("change", apply);
      if (!input.checked) apply();
      box.appendChild(row);
    }
  }

  // The style without the sources the user may not see: those whose layers declare a permission
  // the user lacks, and those whose tiles already answered 403.
  function allowedStyle(style) {
    const can = new Set(GS.me?.permissions || []);
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
      setTimeout(expired, 0);  // removes the map: not while MapLibre is still handing out the error
    } else if (status === 403 && event.sourceId) {
      state.forbidden.add(event.sourceId);
      setTimeout(dropForbidden, 0);
    } else {
      console.error(event.error);
    }
  }

  function tooltipLayers() {
    return state.map.getStyle().layers.filter((l) => l.metadata?.["geo_service:tooltip"]?.length).map((l) => l.id);
  }

  // --- where is this? --------------------------------------------------------------------------

  async function lookup(lon, lat, crs, lngLat, extra = "") {
    try {
      const result = await GS.json(`/locate?lon=${lon}&lat=${lat}&crs=${crs}`);
      $("lookup").innerHTML = MapLookup.panel(result, extra);
      state.popup?.remove();
      if (!state.map) return result;  // signed out meanwhile
      state.popup = new maplibregl.Popup({ closeOnClick: true }).setLngLat(lngLat).setHTML(MapLookup.popup(result)).addTo(state.map);
      return result;
    } catch (error) {
      $("lookup").innerHTML = `${extra}<p class="error">${GS.esc(error.message)}</p>`;
      return null;
    }
  }

  // The display datum's coordinates of a point given in `crs` (the service converts).
  async function toDisplay(lon, lat, crs) {
    if (crs === state.datum || (crs === "cgcs2000" && state.datum === "wgs84")) return [lon, lat];
    const p = await GS.json(`/map/convert?lon=${lon}&lat=${lat}&from=${crs}&to=${state.datum}`);
    return [p.lon, p.lat];
  }

  async function search(event) {
    event.preventDefault();
    $("search-error").textContent = "";
    const q = $("search-text").value.trim();
    try {
      const id = q.match(/^#?\s*(\d+)$/);
      if (id) {
        const incident = await GS.json(`/incidents/${id[1]}`);
        const { lon, lat } = incident.location;
        const at = await toDisplay(lon, lat, "cgcs2000");
        state.map?.flyTo({ center: at, zoom: 17 });
        await lookup(lon, lat, "cgcs2000", at, MapLookup.incident(incident));
        return;
      }
      const numbers = q.split(/[\s,;，]+/).filter(Boolean).map(Number);
      if (numbers.length !== 2 || numbers.some(Number.isNaN)) throw new Error(t("map.search.bad_input"));
      const crs = $("search-datum").value;
      const at = await toDisplay(numbers[0], numbers[1], crs);
      state.map?.flyTo({ center: at, zoom: 16 });
      await lookup(numbers[0], numbers[1], crs, at);
    } catch (error) {
      $("search-error").textContent = error.message;
    }
  }

  // --- hotspots (the analysis service's, when it has them) ------------------------------------

  const HOTSPOT_COLOURS = ["match", ["get", "class"], "hot 99%", "#b2182b", "hot 95%", "#ef8a62", "hot 90%", "#fddbc7",
    "cold 99%", "#2166ac", "cold 95%", "#67a9cf", "cold 90%", "#d1e5f0", "rgba(0,0,0,0)"];

  async function offerHotspots() {
    // A HEAD on a GET-only route answers 405; 404 means the service has no hotspots to offer.
    const probe = await GS.api("/analysis/hotspots", { method: "HEAD" }).catch(() => null);
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
      let data = await GS.json(`/analysis/hotspots?${query}`);
      if (state.datum !== "wgs84") {
        data = await GS.json(`/map/convert?from=cgcs2000&to=${state.datum}`, {
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
      $("filter-error").textContent = t("map.layers.hotspots_error", { message: error.message });
    }
  }

  // --- the map ---------------------------------------------------------------------------------

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
    $("lookup").innerHTML = MapLookup.hint();
  }

  async function loadConfig() {
    if (state.config) return state.config;
    const config = await GS.json("/map/config.json");
    state.datum = config.datum;
    MapLookup.configure(config);
    checkboxes($("categories"), "category", config.categories.map((c) => ({ code: c.code, name: label("category", c.code) })));
    checkboxes($("statuses"), "status", config.statuses.map((s) => ({ code: s, name: label("status", s) })));
    if (config.span) {
      $("filters").elements.start.value = config.span.start;
      $("filters").elements.end.value = config.span.end;
    }
    $("status").textContent = t(config.basemap ? "map.status.drawn_basemap" : "map.status.drawn_plain", { datum: t(`map.datum.${config.datum}`) });
    return (state.config = config);
  }

  async function openMap() {
    closeMap();
    // Where the map opens: the user's town, village or grid (null for the whole county).
    state.extent = await GS.json(`/map/extent?datum=${state.datum}`);
    if (!GS.token) return;  // signed out meanwhile
    // A position in the address (a shared link, a reload) wins; MapLibre writes one soon after the
    // style loads, so look now.
    const placed = Boolean(location.hash);

    const map = state.map = window.geoMap = new maplibregl.Map({
      container: "map",
      // CJK text would be drawn with the browser's own fonts; the styles use no text, so no glyphs are served.
      localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
      locale: MapLookup.maplibreLocale(),
      hash: true,
      maxZoom: 20,
      attributionControl: { compact: true },
      // The style, TileJSON and tiles come from this service: they carry the token (a basemap does
      // not). A tile holds what its user may see, so the browser's copy is revalidated (the service's
      // ETag names the user's jurisdiction): the next user of a shared computer gets their own tiles.
      transformRequest: (url) => (sameOrigin(url) && GS.token
        ? { url, headers: { Authorization: `Bearer ${GS.token}` }, cache: "no-cache" } : { url }),
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
      if (feature) hover.setLngLat(e.lngLat).setHTML(MapLookup.describe(feature)).addTo(map);
      else hover.remove();
    });
    map.on("click", (e) => {
      hover.remove();
      const { lng, lat } = e.lngLat;
      const [incident] = map.queryRenderedFeatures(e.point).filter((f) => f.sourceLayer === "incidents");
      lookup(lng, lat, state.datum, e.lngLat, incident ? MapLookup.tileIncident(incident) : "");
    });
    offerHotspots();
  }

  // --- signing in and out ----------------------------------------------------------------------

  function roleName(code) {
    const role = (state.config?.access_roles || []).find((r) => r.code === code);
    if (!role) return label("role", code);
    return (GS.language === "en" ? role.name_en : role.name) || role.name || code;
  }

  async function onSignedIn(me) {
    try {
      await loadConfig();
      $("who-name").textContent = me.name;
      $("who-role").textContent = roleName(me.role);
      const code = me.jurisdiction.code || label("tier", me.jurisdiction.level);
      $("who-jurisdiction").textContent = t("map.who.place", { name: me.jurisdiction.name, code });
      $("who").hidden = false;
      await openMap();
    } catch (error) {
      if (GS.token) $("status").textContent = t("map.status.start_failed", { message: error.message });
    }
  }

  function onSignOut() {
    const wasOpen = Boolean(state.map);
    closeMap();
    $("who").hidden = true;
    // The next user starts from their own jurisdiction, not from where this one left the map.
    if (wasOpen && location.hash) history.replaceState(null, "", location.pathname + location.search);
  }

  // --- start -----------------------------------------------------------------------------------

  $("hotspots").addEventListener("change", () => showHotspots($("hotspots").checked));
  $("search").addEventListener("submit", search);
  $("filters").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("filter-error").textContent = "";
    if (!state.map) return;
    try {
      await GS.json(styleUrl());  // the service checks the filters (a 422 names the field)
      state.map.setStyle(styleUrl(), { transformStyle: (previous, next) => allowedStyle(next) });
      state.map.once("styledata", () => { if (state.hotspots) showHotspots(true); });
    } catch (error) {
      $("filter-error").textContent = error.message;
    }
  });
  GS.start({ onSignedIn, onSignOut }).catch((error) => { $("status").textContent = error.message; });
})();
