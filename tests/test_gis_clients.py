"""Planners' and analysts' own tools against the running service: GDAL (Debian's ``gdal-bin``) and
stock QGIS 3.22 (Debian's ``python3-qgis``, headless), each signing in with HTTP Basic (the user's
name, the token as password), as they can out of the box.

What the server's own request log must show: GDAL sends the attribute filter and the box, and
pages of a thousand in a few requests; QGIS pages by the ``limit`` maximum the features API
declares and sends the view's box; both get the right counts; QGIS draws every boundary layer
from one vector-tile source styled by the service's style.json; a refused sign-in answers 401 to
every tile, never an empty tile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from geo_service.db.engine import get_engine

from .conftest import FIGURES, live_server, token_for

PROBE = Path(__file__).parent / "gis_clients" / "qgis_probe.py"
SYSTEM_PYTHON = "/usr/bin/python3"
BOX = [104.0, 29.9, 104.3, 30.1]  # lon/lat, inside the demo county
# QGIS 3.22 filters attributes on its side: a box of a few thousand incidents keeps it to pages.
SMALL_BOX = [104.10, 29.98, 104.12, 29.995]
PROXY_VARIABLES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
IN_FORCE = "(SELECT id FROM boundary_versions WHERE status = 'published' ORDER BY effective_from DESC LIMIT 1)"


def _has_qgis() -> bool:
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0
    except OSError:
        return False


needs_gdal = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed")
needs_qgis = pytest.mark.skipif(not _has_qgis(), reason="python3-qgis is not installed")


@pytest.fixture(scope="module")
def service(module_demo_copy_url):
    """The service on a loopback port, its request log, and a planner who signs in with Basic."""
    name = "规划员-gis"
    token = token_for(module_demo_copy_url, "admin", None, name)
    log: list[str] = []
    with live_server(module_demo_copy_url, record=log) as base:
        yield {"base": base, "user": name, "token": token, "log": log, "url": module_demo_copy_url}


def _count(url: str, sql: str, **params) -> int:
    with get_engine(url).connect() as connection:
        return connection.execute(text(sql), params).scalar_one()


def _disputes_in_box(url: str, box: list[float] = BOX) -> int:
    return _count(
        url,
        "SELECT count(*) FROM incidents WHERE category = 'dispute' "
        "AND ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4490))",
        a=box[0],
        b=box[1],
        c=box[2],
        d=box[3],
    )


def _local_env(**extra: str) -> dict[str, str]:
    """The environment without proxies: the service is on loopback, whatever the machine's proxy."""
    env = {key: value for key, value in os.environ.items() if key.lower() not in PROXY_VARIABLES}
    return {**env, "no_proxy": "*", **extra}


def _qgis(part: str, service: dict, box: list[float], tmp_path: Path) -> dict:
    """Run one part of the QGIS probe in a clean desktop-less session; its steps name any stall."""
    home = tmp_path / part
    runtime = home / "runtime"
    runtime.mkdir(parents=True, mode=0o700)
    env = _local_env(QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_RUNTIME_DIR=str(runtime))
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    command = [SYSTEM_PYTHON, str(PROBE), part, service["base"], service["user"], service["token"], json.dumps(box)]
    try:
        answer = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as stalled:
        steps = stalled.stderr.decode() if isinstance(stalled.stderr, bytes) else stalled.stderr
        pytest.fail(f"QGIS stalled in part {part!r}; its steps:\n{steps}")
    assert answer.stdout.strip(), answer.stderr
    return json.loads(answer.stdout.strip().splitlines()[-1])


@needs_gdal
def test_gdal_sends_the_filter_and_the_box_and_pages_by_the_thousand(service, tmp_path):
    out = tmp_path / "disputes.geojson"
    before = len(service["log"])
    env = _local_env(GDAL_HTTP_USERPWD=f"{service['user']}:{service['token']}")
    started = time.perf_counter()
    subprocess.run(
        [
            "ogr2ogr",
            "-oo",
            "PAGE_SIZE=1000",
            "-f",
            "GeoJSON",
            str(out),
            f"OAPIF:{service['base']}/features",
            "incidents",
            "-where",
            "category='dispute'",
            "-spat",
            *map(str, BOX),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - started
    features = json.loads(out.read_text())["features"]
    assert len(features) == _disputes_in_box(service["url"]) > 100
    assert {f["properties"]["category"] for f in features} == {"dispute"}
    pages = [line for line in service["log"][before:] if "/incidents/items" in line]
    assert pages and all("category=dispute" in line and "bbox=" in line for line in pages[1:]), pages
    assert len(pages) <= 1 + len(features) // 1000 + 2, pages
    assert all(line.endswith("-> 200") for line in pages)
    FIGURES["gdal"] = (
        f"ogr2ogr bbox + category='dispute': {len(features)} features, {len(pages)} requests, {seconds:.2f} s"
    )


@needs_gdal
def test_gdal_with_a_wrong_token_is_refused_by_name(service):
    env = _local_env(GDAL_HTTP_USERPWD=f"{service['user']}:not-a-token")
    answer = subprocess.run(
        ["ogrinfo", "-ro", "-so", f"OAPIF:{service['base']}/features", "grids"], env=env, capture_output=True, text=True
    )
    assert answer.returncode != 0
    # GDAL sends no Accept-Language: its user reads the service's message in Chinese.
    assert "令牌无效或已被吊销" in answer.stderr + answer.stdout


@needs_qgis
def test_stock_qgis_signs_in_pages_by_the_declared_limit_and_draws_the_boundaries(service, tmp_path):
    before = len(service["log"])
    started = time.perf_counter()
    seen = _qgis("features", service, SMALL_BOX, tmp_path)
    seen.update(_qgis("tiles", service, BOX, tmp_path))
    seconds = time.perf_counter() - started
    url = service["url"]
    assert seen["grids_valid"] and seen["incidents_valid"] and seen["tiles_valid"], seen
    assert seen["grids_count"] == _count(url, f"SELECT count(*) FROM grids WHERE version_id = {IN_FORCE}")
    assert seen["level2_count"] == _count(
        url, f"SELECT count(*) FROM grids WHERE version_id = {IN_FORCE} AND level = 2"
    )
    assert seen["disputes_in_bbox"] == _disputes_in_box(url, SMALL_BOX) > 10
    log = service["log"][before:]
    grid_pages = [line for line in log if "/grids/items" in line and "limit=10 ->" not in line]
    assert grid_pages and all("limit=1000" in line for line in grid_pages), grid_pages
    assert any("/incidents/items" in line and "bbox=" in line for line in log)
    # Every boundary layer from one source, drawn in the style's colours; a refused sign-in is a
    # 401 on every tile (never a 204 that would read as "nothing here").
    assert seen["drawn_share"] > 0.2 and seen["colours"] > 3, seen
    assert seen["refused"]["drawn_share"] == 0
    tiles = [line for line in log if line.startswith("GET /tiles/boundaries/")]
    assert any(line.endswith("-> 200") for line in tiles)
    assert any(line.endswith("-> 401") for line in tiles)
    assert not any(line.endswith("-> 204") and "/tiles/" in line for line in log if "401" in line)
    FIGURES["qgis"] = (
        f"QGIS 3.22: {seen['grids_count']} grids in {seen['grids_seconds']} s ({len(grid_pages)} pages of 1,000); "
        f"{seen['disputes_in_bbox']} disputes in a box in {seen['disputes_seconds']} s (box sent, category "
        f"filtered by QGIS: 3.22 has no OGC API Part 3); whole probe {seconds:.1f} s"
    )
