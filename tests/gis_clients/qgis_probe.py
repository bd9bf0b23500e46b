"""Drive stock QGIS (Debian's python3-qgis, headless) against a running service.

Run by the system Python that has QGIS's bindings, not the project's environment:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 tests/gis_clients/qgis_probe.py PART BASE_URL USER TOKEN BOX

It signs in with QGIS's own Basic authentication method and, for PART ``features``, opens the grids
and the incidents in BOX as OGC API - Features layers; for PART ``tiles``, every boundary layer as
one vector-tile layer (styled by the service's style.json) drawn over BOX. It prints one JSON
object of what QGIS saw (validity, counts, a filtered count, a rendered image's share of drawn
pixels) and, on stderr, each step as it starts, so a client that stalls is caught in the act.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402 - the platform must be set before Qt loads
    QgsApplication,
    QgsAuthMethodConfig,
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureRequest,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsNetworkAccessManager,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def _step(name: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)


def main(part: str, base: str, user: str, token: str, bbox: list[float]) -> dict:
    _step("start QGIS")
    QgsApplication.setPrefixPath("/usr", True)
    app = QgsApplication([], True, tempfile.mkdtemp())
    app.initQgis()
    # A request that never answers fails after 30 s rather than QGIS's default minute per try.
    QgsNetworkAccessManager.setTimeout(30_000)
    _step("sign in")
    auth = QgsApplication.authManager()
    auth.setPasswordHelperEnabled(False)  # no desktop keyring on a server
    auth.setMasterPassword("geo_service-tests", True)
    authcfg = _basic(auth, "geo_service", user, token)
    out = _features(base, authcfg, bbox) if part == "features" else _tiles_drawn(base, authcfg, auth, user, bbox)
    _step("done")
    return out


def _basic(auth, name: str, user: str, password: str) -> str:
    config = QgsAuthMethodConfig("Basic")
    config.setName(name)
    config.setConfig("username", user)
    config.setConfig("password", password)
    auth.storeAuthenticationConfig(config)
    return config.id()


def _features(base: str, authcfg: str, bbox: list[float]) -> dict:
    out: dict = {}
    _step("grids")
    grids = QgsVectorLayer(f"url='{base}/features' typename='grids' authcfg={authcfg}", "grids", "OAPIF")
    out["grids_valid"] = grids.isValid()
    started = time.perf_counter()
    out["grids_count"] = _count(grids) if grids.isValid() else -1
    out["grids_seconds"] = round(time.perf_counter() - started, 2)
    if grids.isValid():
        _step("grids of level 2")
        grids.setSubsetString('"level" = 2')
        out["level2_count"] = _count(grids)

    # QGIS 3.22 sends the view's box to the server only when asked to (restrictToRequestBBOX); it
    # has no OGC API Part 3, so an attribute filter is always evaluated on its side.
    incidents = QgsVectorLayer(
        f"url='{base}/features' typename='incidents' restrictToRequestBBOX='1' authcfg={authcfg}", "i", "OAPIF"
    )
    out["incidents_valid"] = incidents.isValid()
    if incidents.isValid():
        _step("disputes in the box")
        incidents.setSubsetString("\"category\" = 'dispute'")
        started = time.perf_counter()
        request = QgsFeatureRequest().setFilterRect(QgsRectangle(*bbox))
        out["disputes_in_bbox"] = _count(incidents, request)
        out["disputes_seconds"] = round(time.perf_counter() - started, 2)
    return out


def _tiles_drawn(base: str, authcfg: str, auth, user: str, bbox: list[float]) -> dict:
    out: dict = {}
    _step("boundary tiles")
    tiles = _tiles(base, authcfg)
    out["tiles_valid"] = tiles.isValid()
    if tiles.isValid():
        ok, _ = tiles.loadDefaultStyle()
        out["style_loaded"] = bool(ok)
        _step("draw")
        out.update(_render(tiles, bbox))
    _step("boundary tiles with a wrong password")
    refused = _tiles(base, _basic(auth, "wrong", user, "not-the-token"))
    out["refused"] = {key: value for key, value in _render(refused, bbox).items() if key != "colours"}
    return out


def _tiles(base: str, authcfg: str) -> QgsVectorTileLayer:
    """Every boundary layer as one vector-tile layer, styled by the service's style.json."""
    style = f"{base}/tiles/style.json?combined=true"
    url = f"{base}/tiles/boundaries/%7Bz%7D/%7Bx%7D/%7By%7D.mvt"
    return QgsVectorTileLayer(f"type=xyz&url={url}&zmin=0&zmax=14&styleUrl={style}&authcfg={authcfg}", "boundaries")


def _render(layer: QgsVectorTileLayer, bbox: list[float]) -> dict:
    """Draw the layer over ``bbox`` on white: the share of pixels drawn, the colours, the errors."""
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(_mercator(bbox))
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    pixels = [
        QColor(image.pixel(x, y)).getRgb()[:3] for x in range(0, image.width(), 4) for y in range(0, image.height(), 4)
    ]
    return {
        "drawn_share": sum(p != (255, 255, 255) for p in pixels) / len(pixels),
        "colours": len(set(pixels)),
        "render_errors": [e.message for e in job.errors()],
    }


def _count(layer: QgsVectorLayer, request: QgsFeatureRequest | None = None) -> int:
    """Features read one by one (iterating in Python's own protocol crashes QGIS 3.22 here)."""
    iterator = layer.getFeatures(request or QgsFeatureRequest())
    feature = QgsFeature()
    count = 0
    while iterator.nextFeature(feature):
        count += 1
    iterator.close()
    return count


def _mercator(bbox: list[float]) -> QgsRectangle:
    from qgis.core import QgsCoordinateTransform, QgsProject

    transform = QgsCoordinateTransform(
        QgsCoordinateReferenceSystem("EPSG:4326"), QgsCoordinateReferenceSystem("EPSG:3857"), QgsProject.instance()
    )
    return transform.transformBoundingBox(QgsRectangle(*bbox))


if __name__ == "__main__":
    part_name, base_url, name, secret, box = sys.argv[1:5] + [json.loads(sys.argv[5])]
    print(json.dumps(main(part_name, base_url, name, secret, box)), flush=True)
    os._exit(0)  # QGIS 3.22 may crash tearing down its providers; what it saw is already printed
