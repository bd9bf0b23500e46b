// The wall screen's live map: the service's own style (its town and village boundaries, redrawn
// for a dark screen, over the basemap when one is set) and today's incidents from /wall/summary
// as a GeoJSON layer coloured by risk. The map is drawn in the basemap's datum; the summary's
// points come already in it (the page asks for that datum), never converted here.
"use strict";

window.WallMap = (function () {
  const RISK = { red: "#ff4d4f", yellow: "#ffc53d", blue: "#40a9ff" };
  const BOUNDARY_COLOUR = { towns: "#6fa8ff", villages: "#2c4a6e" };
  const EMPTY = { type: "FeatureCollection", features: [] };
  const state = { map: null, datum: "wgs84", data: EMPTY, ready: false, bbox: null };

  const sameOrigin = (url) => { try { return new URL(url, location.href).origin === location.origin; } catch { return false; } };

  const RECENT_LAYER = {
    id: "recent",
    type: "circle",
    source: "recent",
    paint: {
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 8, 4, 14, 9],
      "circle-color": ["match", ["get", "risk_colour"], "red", RISK.red, "yellow", RISK.yellow, RISK.blue],
      "circle-opacity": 0.9,
      "circle-stroke-color": "#0a1a2b",
      "circle-stroke-width": 1,
    },
  };

  // The service's style kept to what a wall needs: the background (darkened), the basemap, the
  // town and village lines; the incidents are the page's own layer, refreshed with the figures.
  function wallStyle(style) {
    const keep = (layer) => layer.type === "background" || layer.source === "basemap"
      || BOUNDARY_COLOUR[layer.metadata?.["geo_service:layer"]] !== undefined;
    const layers = (style.layers || []).filter(keep).map((layer) => {
      const name = layer.metadata?.["geo_service:layer"];
      if (layer.type === "background") return { ...layer, paint: { "background-color": "#0a1a2b" } };
      if (layer.type === "line" && BOUNDARY_COLOUR[name]) {
        return { ...layer, paint: { ...layer.paint, "line-color": BOUNDARY_COLOUR[name] } };
      }
      if (layer.type === "fill") return { ...layer, paint: { ...layer.paint, "fill-opacity": 0.04 } };
      return layer;
    });
    const used = new Set(layers.map((layer) => layer.source).filter(Boolean));
    const sources = Object.fromEntries(Object.entries(style.sources || {}).filter(([id]) => used.has(id)));
    sources.recent = { type: "geojson", data: state.data };
    // Where to look when the user's jurisdiction is the whole deployment: the counties' bounds.
    if (!state.bbox) state.bbox = Object.values(style.sources || {}).find((s) => s.bounds)?.bounds || null;
    return { ...style, sources, layers: [...layers, RECENT_LAYER] };
  }

  function bboxOf(features) {
    if (!features.length) return null;
    const xs = features.map((f) => f.geometry.coordinates[0]), ys = features.map((f) => f.geometry.coordinates[1]);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }

  function fit() {
    const bbox = state.bbox || bboxOf(state.data.features);
    if (bbox && bbox[0] < bbox[2] && bbox[1] < bbox[3]) state.map.fitBounds(bbox, { padding: 24, animate: false });
  }

  function legend() {
    const box = GS.$("wall-legend");
    box.replaceChildren(...Object.entries(RISK).map(([code, colour]) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const dot = document.createElement("span");
      dot.className = "legend-dot";
      dot.style.backgroundColor = colour;
      item.append(dot, document.createTextNode(GS.label("risk", code)));
      return item;
    }));
  }

  // Open the map for the signed-in user: the basemap's datum, where the user's jurisdiction lies.
  async function open() {
    close();
    const config = await GS.json("/map/config.json");
    state.datum = config.datum;
    state.bbox = (await GS.json(`/map/extent?datum=${encodeURIComponent(state.datum)}`)).bbox;
    legend();
    const map = state.map = new maplibregl.Map({
      container: "wall-map",
      localIdeographFontFamily: "'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif",
      attributionControl: { compact: true },
      interactive: false,  // a screen across the room: nobody drags it
      // The style and tiles come from this service and carry the token (a basemap's tiles do not);
      // a tile holds what its user may see, so the browser's copy is revalidated.
      transformRequest: (url) => (sameOrigin(url) && GS.token
        ? { url, headers: { Authorization: `Bearer ${GS.token}` }, cache: "no-cache" } : { url }),
    });
    map.setStyle(`/tiles/style.json?datum=${encodeURIComponent(state.datum)}`, { transformStyle: (previous, next) => wallStyle(next) });
    map.on("error", (event) => console.error(event.error));
    map.once("load", () => {
      map.getSource("recent")?.setData(state.data);  // what arrived while the style loaded
      fit();
      state.ready = true;
    });
  }

  // Today's incidents, replacing the previous ones.
  function show(collection) {
    state.data = collection || EMPTY;
    if (!state.map) return;
    const source = state.map.getSource("recent");
    if (source) source.setData(state.data);
    if (state.ready && !state.bbox) fit();
  }

  function close() {
    if (state.map) state.map.remove();
    Object.assign(state, { map: null, ready: false, bbox: null, data: EMPTY });
  }

  // For the tests and for anyone checking the screen: the incidents drawn now.
  function drawn() {
    if (!state.map || !state.ready || !state.map.getLayer("recent")) return [];
    return [...new Set(state.map.queryRenderedFeatures({ layers: ["recent"] }).map((f) => f.properties.id))];
  }

  return {
    open, show, close, drawn,
    get datum() { return state.datum; },
    get ready() { return state.ready; },
    get map() { return state.map; },
  };
})();
