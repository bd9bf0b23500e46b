// The console's one map (MapLibre, the service's own style and tiles): the open case, its grid and
// the cameras that see it; in the new-case form, the spot the dispatcher clicks. The map is drawn
// in the basemap's datum (/map/config.json); the service converts every point, never the browser.
"use strict";

(function () {
  const CS = (window.CS = window.CS || {});
  // The layers a dispatcher looks at a case over: boundaries and cameras, not every incident.
  const KEEP = new Set(["towns", "villages", "grids", "cameras", "camera_sectors"]);
  const RISK = { red: "#c62828", yellow: "#d49a00", blue: "#1e6fd9" };
  const state = { map: null, config: null, datum: "wgs84", extent: null, grid: null, onPick: null, loaded: null };

  function sameOrigin(url) {
    try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
  }

  async function config() {
    if (!state.config) state.config = await GS.json("/map/config.json");
    state.datum = state.config.datum;
    return state.config;
  }

  // The style with the layers kept above (and those the user's role may see), and their sources only.
  function keptStyle(style) {
    const can = new Set(GS.me?.permissions || []);
    const layers = (style.layers || []).filter((layer) => {
      const name = layer.metadata?.["geo_service:layer"];
      if (!name) return !layer.source || layer.source === "basemap";
      const needs = layer.metadata?.["geo_service:permission"];
      return KEEP.has(name) && (!needs || can.has(needs));
    });
    const used = new Set(layers.map((layer) => layer.source).filter(Boolean));
    const sources = Object.fromEntries(Object.entries(style.sources || {}).filter(([id]) => used.has(id)));
    return { ...style, sources, layers };
  }

  const empty = () => ({ type: "FeatureCollection", features: [] });
  const point = (lon, lat, properties = {}) => ({ type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties });

  function addOwnLayers(map) {
    const grids = map.getStyle().layers.find((layer) => layer.metadata?.["geo_service:layer"] === "grids");
    if (grids) {
      state.grid = { source: grids.source, sourceLayer: grids["source-layer"] };
      map.addLayer({
        id: "case-grid", type: "line", source: grids.source, "source-layer": grids["source-layer"],
        filter: ["==", ["get", "code"], ""], paint: { "line-color": "#c62828", "line-width": 3 },
      });
    }
    for (const id of ["case-cameras", "case", "pick"]) map.addSource(id, { type: "geojson", data: empty() });
    map.addLayer({ id: "case-cameras", type: "circle", source: "case-cameras",
      paint: { "circle-radius": 5, "circle-color": ["case", ["get", "sees"], "#2e7d32", "#9aa5b1"], "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
    map.addLayer({ id: "case", type: "circle", source: "case",
      paint: { "circle-radius": 9, "circle-color": ["match", ["get", "risk"], "red", RISK.red, "yellow", RISK.yellow, RISK.blue], "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
    map.addLayer({ id: "pick", type: "circle", source: "pick",
      paint: { "circle-radius": 8, "circle-color": "#ff6f00", "circle-stroke-color": "#fff", "circle-stroke-width": 3 } });
  }

  function mapError(event) {
    const status = event.error?.status;
    if (status === 401) setTimeout(() => GS.token && GS.signOut(GS.t("common.signin.expired")), 0);
    else if (status !== 403 && status !== 404) console.warn(event.error?.message || event.error);
  }

  async function init() {
    remove();
    await config();
    state.extent = await GS.json(`/map/extent?datum=${state.datum}`);
    const map = (state.map = window.consoleMap = new maplibregl.Map({
      container: "case-map",
      localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
      maxZoom: 20,
      attributionControl: { compact: true },
      // The style and tiles come from this service and carry the token (a basemap's do not).
      transformRequest: (url) => (sameOrigin(url) && GS.token
        ? { url, headers: { Authorization: `Bearer ${GS.token}` }, cache: "no-cache" } : { url }),
    }));
    map.setStyle(`/tiles/style.json?datum=${state.datum}`, { transformStyle: (previous, next) => keptStyle(next) });
    map.addControl(new maplibregl.NavigationControl(), "top-right");
    map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-right");
    map.on("error", mapError);
    map.on("click", (event) => {
      if (state.onPick) state.onPick(event.lngLat.lng, event.lngLat.lat, state.datum);
    });
    state.loaded = new Promise((resolve) => map.once("load", () => {
      const style = map.getStyle();
      if (state.extent?.bbox) map.fitBounds(state.extent.bbox, { padding: 16, animate: false });
      else if (style.center) map.jumpTo({ center: style.center, zoom: style.zoom || 9 });
      addOwnLayers(map);
      window.consoleMapReady = true;
      resolve(map);
    }));
    return state.loaded;
  }

  function remove() {
    state.map?.remove();
    state.map = window.consoleMap = null;
    state.onPick = null;
    window.consoleMapReady = false;
  }

  // A point given in `crs`, in the map's datum (CGCS2000 draws as WGS84: within a metre).
  async function toDisplay(lon, lat, crs) {
    if (crs === state.datum || (crs === "cgcs2000" && state.datum === "wgs84")) return [lon, lat];
    const p = await GS.json(`/map/convert?lon=${lon}&lat=${lat}&from=${crs}&to=${state.datum}`);
    return [p.lon, p.lat];
  }

  // GeoJSON in CGCS2000 moved onto the map's datum in one request (none when it draws in WGS84).
  async function collectionToDisplay(collection) {
    if (state.datum === "wgs84" || !collection.features.length) return collection;
    return GS.json(`/map/convert?from=cgcs2000&to=${state.datum}`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(collection) });
  }

  function set(id, data) {
    state.map?.getSource(id)?.setData(data);
  }

  // The case: its point coloured by risk, its grid outlined, the cameras that see it.
  async function showCase(incident, cameras = []) {
    const map = await state.loaded;
    if (!map || map !== state.map) return;
    const { lon, lat } = incident.location;
    const [x, y] = await toDisplay(lon, lat, "cgcs2000");
    set("case", { type: "FeatureCollection", features: [point(x, y, { risk: incident.risk_colour, id: incident.id })] });
    set("pick", empty());
    const seen = { type: "FeatureCollection",
      features: cameras.slice(0, 30).map((c) => point(c.lon, c.lat, { sees: Boolean(c.sees), name: c.name })) };
    set("case-cameras", await collectionToDisplay(seen));
    if (map.getLayer("case-grid")) map.setFilter("case-grid", ["==", ["get", "code"], incident.grid?.code || ""]);
    map.jumpTo({ center: [x, y], zoom: Math.max(map.getZoom(), 14) });
  }

  function clearCase() {
    for (const id of ["case", "case-cameras", "pick"]) set(id, empty());
    if (state.map?.getLayer("case-grid")) state.map.setFilter("case-grid", ["==", ["get", "code"], ""]);
  }

  // New-case mode: every click on the map is handed to onPick(lon, lat, datum).
  function pick(onPick) {
    state.onPick = onPick;
    state.map?.getCanvas().classList.toggle("picking", Boolean(onPick));
    if (onPick) clearCase();
  }

  async function showPick(lon, lat, crs, fly = false) {
    const map = await state.loaded;
    const [x, y] = await toDisplay(lon, lat, crs);
    set("pick", { type: "FeatureCollection", features: [point(x, y)] });
    if (fly) map.jumpTo({ center: [x, y], zoom: Math.max(map.getZoom(), 15) });
  }

  CS.map = {
    init, remove, config, showCase, clearCase, pick, showPick, toDisplay,
    get datum() { return state.datum; },
  };
})();
