"""A county nobody here drew, loaded from the files its offices hold, on an empty database.

The county is Xianyou (仙游县, 350322): its real outline, cut into synthetic towns, villages and
grids by ``tests/county_files``, written as a GBK Shapefile zip, a GeoPackage, a GCJ-02 GeoJSON
that does not say so, an Excel roster, a GBK camera export and an Excel year of cases, with
problems planted where the manifest says. The import must find every planted problem at its
row and column, store nothing when asked to be all or nothing, load the rest with
``skip_bad_rows``, change nothing when run again, and leave a county a dispatcher, a planner and
an analyst can work on.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from geo_service.county.load import crs_options, import_county
from geo_service.db import migrate
from geo_service.db.engine import dispose_engines, get_engine
from geo_service.i18n import Message, translated_templates
from geo_service.settings import Settings
from geo_service.tiles.mvt import Tile

from .conftest import scalar
from .county_files import make_county, write_bad_files, write_county_files

ROOT = Path(__file__).resolve().parents[1]
XIANYOU = ROOT / "boundaries" / "sources" / "350322.geojson"
CJK = re.compile(r"[\u4e00-\u9fff]")
TABLES = (
    "boundary_versions",
    "admin_units",
    "grids",
    "officers",
    "officer_assignments",
    "cameras",
    "incidents",
    "incident_events",
    "outbox",
    "audit_log",
)


@pytest.fixture(scope="module")
def xianyou():
    return make_county(XIANYOU, "350322", seed=3, incidents=1500)


@pytest.fixture(scope="module")
def manifest(xianyou, tmp_path_factory):
    return write_county_files(xianyou, tmp_path_factory.mktemp("xianyou"))


@contextmanager
def migrated_database(cluster, prefix: str) -> Iterator[str]:
    """The URL of an empty database, migrated: no demo, no rules beyond the migrations' own;
    dropped afterwards."""
    name = f"geo_service_{prefix}_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    url = cluster.url(name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        dispose_engines()
        cluster.drop_database(name)


@pytest.fixture(scope="module")
def fresh_url(cluster):
    with migrated_database(cluster, "county") as url:
        yield url


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def run_import(url: str, manifest, **options):
    """Import the manifest's folder, declaring the datums of the files that do not say theirs."""
    default, by_file = crs_options(manifest.crs_options()[1::2])
    return import_county(
        get_engine(url),
        [manifest.folder],
        settings=Settings(database_url=url),
        actor="tests",
        crs=default,
        crs_by_file=by_file,
        **options,
    )


def errors_of(report) -> set[tuple[str, int | None, str | None]]:
    return {(f.path, p.row, p.column) for f in report.files for p in f.problems if p.severity == "error"}


def untranslated(reason) -> list[str]:
    """What of a reason the catalogue cannot say in Chinese: plain text, or a message (or a message
    given to it as a value) whose template has no entry."""
    if not isinstance(reason, Message):
        return [f"plain text: {reason!r}"]
    missing = [] if reason.template in translated_templates() else [f"no entry: {reason.template!r}"]
    return missing + [m for value in reason.params.values() if isinstance(value, Message) for m in untranslated(value)]


# How the planted problems of the incidents file are said, in Chinese and in English.
PLANTED_SAID = {
    "unknown_category": ("category 的取值", "unknown category"),
    "no_coordinates": ("缺少坐标：该行没有经纬度", "no coordinates: the row has no longitude/latitude"),
    "outside_county": ("不在本县（区）内", "outside the county"),
}


def test_a_dry_run_finds_every_planted_problem_and_stores_nothing(fresh_url, manifest):
    before = counts(get_engine(fresh_url))
    report = run_import(fresh_url, manifest, dry_run=True)
    assert {f.path: f.kind for f in report.files} == {e.report_path: e.kind for e in manifest.files}
    missing = manifest.expected() - errors_of(report)
    assert not missing, f"planted problems not reported: {sorted(missing)}"
    assert not report.stored and counts(get_engine(fresh_url)) == before


def test_all_or_nothing_stores_nothing_when_a_row_is_bad(fresh_url, manifest):
    before = counts(get_engine(fresh_url))
    report = run_import(fresh_url, manifest)
    assert report.error_count >= len(manifest.problems) and not report.stored
    assert counts(get_engine(fresh_url)) == before


def test_grids_in_gcj02_that_do_not_say_so_are_caught(fresh_url, manifest):
    grids = manifest.of_kind("grids")
    default, by_file = crs_options(manifest.crs_options()[1::2])
    by_file.pop(grids.path, None)
    report = import_county(
        get_engine(fresh_url),
        [manifest.folder],
        settings=Settings(database_url=fresh_url),
        actor="tests",
        crs="wgs84",
        crs_by_file=by_file,
        dry_run=True,
    )
    reasons = [p.reason for p in report.file(grids.report_path).errors if p.row is None]
    assert any("GCJ-02" in reason for reason in reasons), reasons


def test_the_county_loads_with_its_bad_rows_left_out(fresh_url, manifest, xianyou):
    report = run_import(fresh_url, manifest, skip_bad_rows=True)
    assert report.stored and report.changed
    engine = get_engine(fresh_url)
    assert scalar(engine, "SELECT count(*) FROM admin_units WHERE level = 'town'") == len(xianyou.towns)
    assert scalar(engine, "SELECT count(*) FROM admin_units WHERE level = 'village'") == len(xianyou.villages)
    assert scalar(engine, "SELECT count(*) FROM grids") == len(xianyou.grids)
    bad_incident_rows = {p.row for p in manifest.of_kind("incidents").problems}
    assert scalar(engine, "SELECT count(*) FROM incidents") == len(xianyou.incidents) - len(bad_incident_rows)
    assert scalar(engine, "SELECT count(*) FROM cameras") == len(xianyou.cameras)
    # Closed cases stay closed at their own time, and tell nobody.
    assert scalar(engine, "SELECT count(*) FROM incidents WHERE status = 'closed' AND closed_at IS NULL") == 0
    assert scalar(engine, "SELECT count(*) FROM outbox") == 0
    gaps = report.gaps
    assert {g["code"] for g in gaps["grids_without_grid_worker"]} == set(manifest.gaps["grid_worker"])
    assert {g["code"] for g in gaps["villages_without_party_secretary"]} == set(
        manifest.gaps["village_party_secretary"]
    )
    assert {g["code"] for g in gaps["villages_without_police"]} == set(manifest.gaps["community_police"])


def test_importing_the_same_files_again_changes_nothing(fresh_url, manifest):
    before = counts(get_engine(fresh_url))
    report = run_import(fresh_url, manifest, skip_bad_rows=True)
    assert report.stored and not report.changed
    after = counts(get_engine(fresh_url))
    assert {k: v for k, v in after.items() if k != "audit_log"} == {k: v for k, v in before.items() if k != "audit_log"}


def test_a_dispatcher_and_an_analyst_work_on_the_county(fresh_url, xianyou):
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    from .conftest import token_for

    token = token_for(fresh_url, "admin")
    client = TestClient(create_app(Settings(database_url=fresh_url)), headers={"Authorization": f"Bearer {token}"})
    grid = xianyou.grids[xianyou.grids["level"] == 1].iloc[0]
    point = grid.geometry.representative_point()
    located = client.get("/locate", params={"lon": point.x, "lat": point.y, "crs": "cgcs2000"}).json()
    assert located["grid"]["code"] == grid["code"]
    town_counts = client.get(
        "/analysis/counts", params={"unit": "town", "start": "2020-01-01", "end": "2030-01-01"}
    ).json()
    total = sum(f["properties"]["count"] for f in town_counts["features"])
    assert total == scalar(
        get_engine(fresh_url), "SELECT count(*) FROM incidents WHERE status NOT IN ('rejected', 'merged')"
    )
    at = Tile.at(point.x, point.y, 14)
    tile = client.get(f"/tiles/grids/14/{at.x}/{at.y}.mvt")
    assert tile.status_code == 200 and len(tile.content) > 100


def test_each_kind_of_bad_file_is_refused_and_nothing_is_half_loaded(cluster, xianyou, manifest, tmp_path):
    bad = write_bad_files(xianyou, tmp_path / "bad")
    for entry in bad.files:
        folder = tmp_path / entry.path.replace(".", "_")
        shutil.copytree(manifest.folder, folder)
        for good in folder.iterdir():  # the good file it replaces (named with or without its suffix)
            if entry.replaces in (good.name, good.stem):
                good.unlink()
        shutil.copy(bad.folder / entry.path, folder / entry.path)
        with migrated_database(cluster, "bad") as url:
            before = counts(get_engine(url))
            default, by_file = crs_options(manifest.crs_options()[1::2] + bad.crs_options()[1::2])
            present = {path.name for path in folder.iterdir()}
            by_file = {k: v for k, v in by_file.items() if k in present}
            if entry.problems and entry.problems[0].what == "no_datum":
                default, by_file = None, {k: v for k, v in by_file.items() if k != entry.path}
            report = import_county(
                get_engine(url),
                [folder],
                settings=Settings(database_url=url),
                actor="tests",
                crs=default,
                crs_by_file=by_file,
            )
            expected = {(entry.report_path, p.row, p.column) for p in entry.problems}
            assert expected <= errors_of(report), (entry.path, sorted(errors_of(report))[:10])
            assert not report.stored and counts(get_engine(url)) == before, entry.path


def test_the_command_line_loads_a_fresh_database(cluster, manifest, tmp_path):
    name = f"geo_service_cli_{uuid.uuid4().hex[:8]}"
    cluster.create_database(name)
    url = cluster.url(name)
    env = {**{k: v for k, v in os.environ.items() if k != "GEO_SERVICE_DATABASE_URL"}, "DATABASE_URL": url}
    try:
        cli = [sys.executable, "-m", "geo_service.cli.main"]
        migrated = subprocess.run([*cli, "db", "migrate"], capture_output=True, text=True, env=env, timeout=120)
        assert migrated.returncode == 0, migrated.stderr
        report_path = tmp_path / "report.json"
        args = [
            *cli,
            "county",
            "import",
            str(manifest.folder),
            *manifest.crs_options(),
            "--skip-bad-rows",
            "--report",
            str(report_path),
        ]
        loaded = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert loaded.returncode == 0, loaded.stdout + loaded.stderr
        assert "stored" in loaded.stdout and report_path.exists()
        # Chinese first, the English after it: the problems' lines and the verdict.
        assert "错误：" in loaded.stdout and "已保存；有错误的行未导入" in loaded.stdout, loaded.stdout
        incidents = manifest.of_kind("incidents")
        row = next(p.row for p in incidents.problems if p.what == "unknown_category")
        assert f"错误：{incidents.report_path} 第 {row} 行 事件类型 列：category 的取值" in loaded.stdout, loaded.stdout
        # The report a county office reads to fix its files: every reason in Chinese.
        written = json.loads(report_path.read_text(encoding="utf-8"))
        reasons = {(f["path"], p["row"], p["column"]): p["reason"] for f in written["files"] for p in f["problems"]}
        assert reasons and all(CJK.search(reason) for reason in reasons.values())
        assert reasons[(incidents.report_path, row, "事件类型")].startswith("category 的取值")
        again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert again.returncode == 0 and "nothing changed" in again.stdout
        assert "没有变化：数据库中已有这些文件的内容（nothing changed" in again.stdout
    finally:
        dispose_engines()
        cluster.drop_database(name)


def test_the_readme_lists_every_column_the_import_recognises():
    from geo_service.county.fields import FIELDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        alias for fields in FIELDS.values() for aliases in fields.values() for alias in aliases if alias not in readme
    ]
    assert not missing


def test_an_administrator_uploads_the_files(fresh_url, manifest):
    """Over HTTP, on the county loaded above: the same report, 422 when errors stop it."""
    from fastapi.testclient import TestClient

    from geo_service.api.app import create_app

    from .conftest import token_for

    app = create_app(Settings(database_url=fresh_url))
    uploads = [("files", (path.name, path.read_bytes())) for path in sorted(manifest.folder.iterdir())]
    form = {"crs": manifest.crs_options()[1::2], "dry_run": "false", "skip_bad_rows": "false"}
    before = counts(get_engine(fresh_url))
    admin = TestClient(app, headers={"Authorization": f"Bearer {token_for(fresh_url, 'admin')}"})
    refused = admin.post("/county/import", files=uploads, data=form)
    assert refused.status_code == 422 and refused.json()["stored"] is False
    found = {(f["path"], p["row"], p["column"]) for f in refused.json()["files"] for p in f["problems"]}
    assert manifest.expected() <= found
    # Read with no Accept-Language: every reason in Chinese; asked for English, the same report in English.
    assert refused.headers["content-language"] == "zh"
    english = admin.post("/county/import", files=uploads, data=form, headers={"Accept-Language": "en"})
    assert english.status_code == 422 and english.headers["content-language"] == "en"
    _same_report_in_two_languages(refused.json(), english.json(), manifest)
    again = admin.post("/county/import", files=uploads, data={**form, "skip_bad_rows": "true"})
    assert again.status_code == 200 and again.json()["stored"] is True and again.json()["changed"] is False
    dispatcher = TestClient(app, headers={"Authorization": f"Bearer {token_for(fresh_url, 'dispatcher')}"})
    assert dispatcher.post("/county/import", files=uploads, data=form).status_code == 403
    after = counts(get_engine(fresh_url))
    assert {k: v for k, v in after.items() if k not in ("audit_log",)} == {
        k: v for k, v in before.items() if k not in ("audit_log",)
    }


def _same_report_in_two_languages(chinese: dict, english: dict, manifest) -> None:
    """The same report, keys and all, but its reasons: Chinese in one, English in the other, each
    planted problem of the incidents file said at its file, row and column."""
    assert (
        set(chinese)
        == set(english)
        == {"dry_run", "stored", "changed", "errors", "warnings", "summary", "files", "gaps"}
    )
    for one in (chinese, english):
        assert {key for f in one["files"] for key in f} == {
            "path",
            "kind",
            "datum",
            "datum_from",
            "rows",
            "loaded",
            "problems",
        }
        assert {key for f in one["files"] for p in f["problems"] for key in p} == {
            "row",
            "column",
            "reason",
            "severity",
        }

    def problems(report: dict) -> dict:
        return {
            (f["path"], p["row"], p["column"], p["severity"]): p["reason"]
            for f in report["files"]
            for p in f["problems"]
        }

    said_zh, said_en = problems(chinese), problems(english)
    assert said_zh.keys() == said_en.keys() and said_zh
    assert all(CJK.search(reason) for reason in said_zh.values()), [r for r in said_zh.values() if not CJK.search(r)]
    assert all(said_zh[key] != said_en[key] for key in said_zh)
    incidents = manifest.of_kind("incidents")
    for planted in incidents.problems:
        zh, en = PLANTED_SAID[planted.what]
        key = (incidents.report_path, planted.row, planted.column, "error")
        assert zh in said_zh[key] and en in said_en[key], (planted, said_zh[key], said_en[key])


def test_every_reason_of_the_messy_and_the_bad_files_is_a_message_said_in_chinese(cluster, xianyou, manifest, tmp_path):
    """The county's files and every kind of bad file at once, dry run: whatever goes wrong, in any
    reader, check or writer, is reported as a message the catalogue says in Chinese; and the
    report still pickles, reasons and all (it crosses processes)."""
    bad = write_bad_files(xianyou, tmp_path / "bad")
    folder = tmp_path / "all"
    shutil.copytree(manifest.folder, folder)
    for entry in bad.files:
        shutil.copy(bad.folder / entry.path, folder / entry.path)
    with migrated_database(cluster, "reasons") as url:
        default, by_file = crs_options(manifest.crs_options()[1::2] + bad.crs_options()[1::2])
        no_datum = next(e.path for e in bad.files if e.problems[0].what == "no_datum")
        by_file.pop(no_datum, None)
        report = import_county(
            get_engine(url),
            [folder],
            settings=Settings(database_url=url),
            actor="tests",
            crs=default,
            crs_by_file=by_file,
            dry_run=True,
        )
    problems = [p for f in report.files for p in f.problems]
    assert len({p.reason.template for p in problems}) >= 10, "too few kinds of problem to tell anything"
    wrong = {(f.path, p.row, p.column): untranslated(p.reason) for f in report.files for p in f.problems}
    assert not {k: v for k, v in wrong.items() if v}
    zh = report.to_dict()
    assert all(CJK.search(p["reason"]) for f in zh["files"] for p in f["problems"])
    again = pickle.loads(pickle.dumps(report))
    assert again.to_dict("zh") == zh and again.to_dict("en") == report.to_dict("en")
