"""Rules administration: the rule tables exported as files and imported back, checked before
anything is written, audited, refused while a row is in use, and in effect for the next case."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from geo_service.errors import Conflict, InvalidInput
from geo_service.rules import read_rule_table
from geo_service.rules.admin import export_rules, import_rules, read_rules
from geo_service.rules.tables import TABLES

from .conftest import scalar, signed_in
from .tiny_county import TOWN

DEFAULTS = Path(__file__).parents[1] / "geo_service" / "rules"


@pytest.fixture(autouse=True)
def rules_restored(tiny_engine, tmp_path_factory):
    """Each test starts from the tiny county's rules and leaves them as it found them."""
    saved = tmp_path_factory.mktemp("saved")
    with tiny_engine.connect() as connection:
        export_rules(connection, saved)
    yield
    with tiny_engine.begin() as connection:
        import_rules(connection, saved, actor="tests")


def exported(engine, folder: Path, fmt: str = "csv") -> Path:
    with engine.connect() as connection:
        export_rules(connection, folder, fmt=fmt)
    return folder


def load(engine, path: Path, **options):
    with engine.begin() as connection:
        return import_rules(connection, path, actor="tester", **options)


def edit(path: Path, old: str, new: str) -> None:
    """Replace the one line ``old`` of a file by ``new``."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines.count(old) == 1, (path, old)
    lines[lines.index(old)] = new
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def rule_audits(engine) -> list[tuple]:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT actor, entity_id, before, after FROM audit_log WHERE action = 'rules.replace' ORDER BY id")
        ).all()


def limit(engine, category: str | None, colour: str | None) -> int:
    return scalar(
        engine,
        "SELECT limit_hours FROM time_limit_rules WHERE category IS NOT DISTINCT FROM :c "
        "AND risk_colour IS NOT DISTINCT FROM :k",
        c=category,
        k=colour,
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_changes_nothing(tiny_engine, tmp_path, fmt):
    folder = exported(tiny_engine, tmp_path, fmt)
    written = sorted(p.name for p in folder.iterdir())
    assert written == (["rules.xlsx"] if fmt == "xlsx" else sorted(f"{name}.csv" for name in TABLES))
    audits = len(rule_audits(tiny_engine))
    change = load(tiny_engine, folder)
    assert not change.changed and not change.stored
    assert change.summary() == "nothing changed: the rules already are as given"
    assert set(change.tables) == set(TABLES)
    assert all(t.unchanged == t.rows_before > 0 for t in change.tables.values())
    assert len(rule_audits(tiny_engine)) == audits


def test_the_export_has_the_columns_of_the_default_files_and_the_defaults_import_unchanged(tiny_engine, tmp_path):
    exported(tiny_engine, tmp_path)
    for name in TABLES:
        with (tmp_path / f"{name}.csv").open(encoding="utf-8") as f:
            header = next(csv.reader(f))
        defaults = [c for c in read_rule_table(name).columns if c not in TABLES[name].extra]
        assert header == defaults, name
    # The tiny county was seeded from the defaults: the package's own folder is the same rules
    # (its other files, permissions and access roles, are skipped and said to be).
    change = load(tiny_engine, DEFAULTS, dry_run=True)
    assert not change.changed
    assert {s["file"] for s in change.skipped} >= {"permissions.csv", "access_roles.csv"}


def test_a_csv_saved_in_gbk_reads_the_same(tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    titles = (folder / "job_titles.csv").read_text(encoding="utf-8")
    (folder / "job_titles.csv").write_bytes(
        titles.replace("\n网格员,grid_worker\n", "\n网格员,grid_leader\n").encode("gbk")
    )
    change = load(tiny_engine, folder / "job_titles.csv")
    assert change.tables["job_titles"].changed == ["网格员"] and list(change.tables) == ["job_titles"]
    assert scalar(tiny_engine, "SELECT role FROM job_titles WHERE title = '网格员'") == "grid_leader"


def test_an_edited_folder_is_applied_audited_and_a_second_import_changes_nothing(tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    assert limit(tiny_engine, "dispute", "blue") == 168
    edit(folder / "time_limits.csv", "dispute,blue,168", "dispute,blue,100")
    with (folder / "job_titles.csv").open("a", encoding="utf-8") as f:
        f.write("网格协管员,grid_worker\n")
    before = rule_audits(tiny_engine)

    change = load(tiny_engine, folder)

    assert change.stored and change.changed
    assert change.tables["time_limits"].changed == ["dispute/blue"]
    assert change.tables["job_titles"].added == ["网格协管员"]
    assert not any(t.any for name, t in change.tables.items() if name not in ("time_limits", "job_titles"))
    assert limit(tiny_engine, "dispute", "blue") == 100
    assert scalar(tiny_engine, "SELECT role FROM job_titles WHERE title = '网格协管员'") == "grid_worker"
    titles = len(read_rule_table("job_titles"))
    audits = rule_audits(tiny_engine)[len(before) :]
    assert [(a[0], a[1]) for a in audits] == [("tester", "job_titles"), ("tester", "time_limit_rules")]
    assert audits[0][2] == {"rows": titles} and audits[0][3]["rows"] == titles + 1
    assert audits[0][3]["added"] == ["网格协管员"]
    assert audits[1][3]["changed"] == ["dispute/blue"] and audits[1][3]["removed"] == []

    again = load(tiny_engine, folder)
    assert not again.changed and not again.stored
    assert len(rule_audits(tiny_engine)) == len(before) + 2


def row_of(path: Path, line: str) -> int:
    """The data row (1-based, header not counted) holding ``line`` in a CSV file."""
    return path.read_text(encoding="utf-8").splitlines().index(line)


def snapshot(engine) -> dict:
    with engine.connect() as connection:
        return read_rules(connection)


def test_an_edited_workbook_is_applied(tiny_engine, tmp_path):
    from openpyxl import load_workbook

    path = exported(tiny_engine, tmp_path, "xlsx") / "rules.xlsx"
    book = load_workbook(path)
    limits = book["time_limits"]
    for row in limits.iter_rows(min_row=2):
        if (row[0].value, row[1].value) == ("dispute", "blue"):
            row[2].value = 80
    book["job_titles"].append(["110接警员", "community_police"])
    book.save(path)
    change = load(tiny_engine, path)
    assert change.tables["time_limits"].changed == ["dispute/blue"]
    assert change.tables["job_titles"].added == ["110接警员"]
    assert limit(tiny_engine, "dispute", "blue") == 80


def test_unknown_values_are_refused_by_file_row_and_column_and_nothing_changes(tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    edits = [  # file, line as exported, line as edited, the column in error
        ("job_titles.csv", "网格员,grid_worker", "网格员,grid_helper", "role"),  # no such role
        ("time_limits.csv", "emergency,red,6", "emergencies,red,6", "category"),  # no such category
        ("time_limits.csv", "emergency,,24", "emergency,,0", "limit_hours"),  # not a positive whole number
        ("time_limits.csv", "dispute,red,72", "dispute,red,1.5", "limit_hours"),
        ("roles.csv", "grid_worker,网格员,grid worker,grid", "grid_worker,网格员,grid worker,street", "unit_level"),
        ("camera_kinds.csv", "zongzhi,综治,comprehensive governance,90,60", "zongzhi,综治,x,400,60", "fov_deg"),
        ("responsibility_rules.csv", "village,,5,grid_leader,false", "village,,4,grid_leader,maybe", "core"),
        ("value_aliases.csv", "status,已办结,closed", "status,已办结,finished", "value"),
    ]
    expected = set()
    for name, old, new, column in edits:
        edit(folder / name, old, new)
        expected.add((name, row_of(folder / name, new), column))
    before = snapshot(tiny_engine)

    with pytest.raises(InvalidInput) as caught:
        load(tiny_engine, folder)

    problems = {(p["file"], p["row"], p["column"]): p["reason"] for p in caught.value.detail["problems"]}
    assert set(problems) == expected
    title_row = row_of(folder / "job_titles.csv", "网格员,grid_helper")
    assert problems[("job_titles.csv", title_row, "role")] == "unknown role 'grid_helper': it is not in the roles table"
    assert "unknown category 'emergencies'" in " ".join(problems.values())
    assert "'street' is not one of grid, village, town, county" in " ".join(problems.values())
    zongzhi = row_of(folder / "camera_kinds.csv", "zongzhi,综治,x,400,60")
    assert caught.value.message.startswith(f"camera_kinds.csv row {zongzhi}, column fov_deg: 400 is out of range")
    assert "(and 7 more problems)" in caught.value.message
    assert caught.value.message.endswith("nothing was changed")
    assert snapshot(tiny_engine) == before


def test_duplicate_keys_and_a_missing_default_are_refused(tiny_engine, tmp_path):
    (tmp_path / "time_limits.csv").write_text("category,risk_colour,limit_hours\ndispute,red,72\ndispute,red,48\n")
    (tmp_path / "sources.csv").write_text("code,name_zh,name_en,colour\nBad Code,坏,bad,x\n")
    with pytest.raises(InvalidInput) as caught:
        load(tiny_engine, tmp_path)
    problems = {(p["file"], p["row"], p["column"]) for p in caught.value.detail["problems"]}
    assert problems == {
        ("time_limits.csv", 2, "risk_colour"),  # the same category and colour as row 1
        ("time_limits.csv", None, "category"),  # no default row
        ("sources.csv", None, "colour"),  # unknown column
    }
    assert limit(tiny_engine, "dispute", "red") == 72


def test_a_row_still_in_use_is_not_removed(tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    # community_police is held by officers of the tiny county; removing it from the rules too is
    # not enough.
    lines = (folder / "roles.csv").read_text(encoding="utf-8").splitlines()
    (folder / "roles.csv").write_text("\n".join(x for x in lines if not x.startswith("community_police")) + "\n")
    lines = (folder / "responsibility_rules.csv").read_text(encoding="utf-8").splitlines()
    (folder / "responsibility_rules.csv").write_text(
        "\n".join(x for x in lines if not x.endswith("community_police,true")) + "\n"
    )
    (folder / "job_titles.csv").write_text("title,role\n网格员,grid_worker\n")
    with pytest.raises(Conflict) as caught:
        load(tiny_engine, folder)
    problems = caught.value.detail["problems"]
    assert [(p["file"], p["column"]) for p in problems] == [("roles.csv", "code")]
    assert "role 'community_police' is still used in officer assignments" in problems[0]["reason"]
    assert scalar(tiny_engine, "SELECT count(*) FROM roles WHERE code = 'community_police'") == 1
    assert scalar(tiny_engine, "SELECT count(*) FROM job_titles") == len(read_rule_table("job_titles"))

    # A category named by the time limits (not given) cannot go either.
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "categories.csv").write_text("code,name_zh,name_en\nother,其他,other\n")
    with pytest.raises(Conflict) as caught:
        load(tiny_engine, tmp_path / "only")
    reasons = " ".join(p["reason"] for p in caught.value.detail["problems"])
    assert "category 'dispute' is still used in time limits" in reasons


def test_a_dry_run_says_what_would_change_and_stores_nothing(tiny_engine, tmp_path):
    (tmp_path / "rules.csv").write_text("not,a,table\n")
    folder = exported(tiny_engine, tmp_path)
    edit(folder / "time_limits.csv", "dispute,blue,168", "dispute,blue,99")
    change = load(tiny_engine, folder, dry_run=True)
    assert change.tables["time_limits"].changed == ["dispute/blue"] and not change.stored
    assert "dry run" in change.summary()
    assert [s["file"] for s in change.skipped] == ["rules.csv"]
    assert limit(tiny_engine, "dispute", "blue") == 168


def post_dispute(client, ext_id: str):
    return client.post(
        "/incidents",
        json={
            "external_id": ext_id,
            "lon": 104.07,
            "lat": 30.04,
            "category": "dispute",
            "source": "hotline_12345",
            "reported_at": "2026-01-15T09:30:00+08:00",
            "description": "邻里因排水沟发生争执",
        },
    )


def test_a_changed_time_limit_is_in_effect_for_the_next_case(tiny_url, tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    edit(folder / "time_limits.csv", "dispute,blue,168", "dispute,blue,100")
    with signed_in(tiny_url) as client:
        before = post_dispute(client, "RULES-1").json()
        load(tiny_engine, folder / "time_limits.csv")
        after = post_dispute(client, "RULES-2").json()
    for incident, hours in ((before, 168), (after, 100)):
        dispatched = datetime.fromisoformat(incident["dispatched_at"])
        assert datetime.fromisoformat(incident["deadline"]) - dispatched == timedelta(hours=hours)


def test_an_administrator_reads_replaces_imports_and_exports_over_http(tiny_url, tiny_engine):
    with signed_in(tiny_url) as client:
        everything = client.get("/rules")
        assert everything.status_code == 200 and set(everything.json()) == set(TABLES)
        limits = client.get("/rules/time_limits").json()
        assert {"category": "dispute", "risk_colour": "blue", "limit_hours": 168} in limits

        changed = [
            dict(r, limit_hours=120) if (r["category"], r["risk_colour"]) == ("dispute", "blue") else r for r in limits
        ]
        answer = client.put("/rules/time_limits", json=changed)
        assert answer.status_code == 200, answer.text
        assert answer.json()["tables"]["time_limits"]["changed"] == ["dispute/blue"]
        assert limit(tiny_engine, "dispute", "blue") == 120
        assert client.put("/rules/time_limits", json=changed).json()["changed"] is False

        bad = client.put(
            "/rules/time_limits", json=[*changed, {"category": "nosuch", "risk_colour": None, "limit_hours": 5}]
        )
        assert bad.status_code == 422
        assert bad.json()["problems"] == [
            {
                "file": "PUT /rules/time_limits",
                "row": len(changed) + 1,
                "column": "category",
                "reason": "unknown category 'nosuch': it is not in the categories table",
            }
        ]
        in_use = client.put(
            "/rules/roles", json=[r for r in client.get("/rules/roles").json() if r["code"] != "village_cadre"]
        )
        assert in_use.status_code == 409 and "village_cadre" in in_use.json()["message"]
        assert client.get("/rules/nosuch").status_code == 422

        workbook = client.get("/rules/export", params={"format": "xlsx"})
        assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
        zipped = client.get("/rules/export", params={"format": "zip"})
        names = zipfile.ZipFile(io.BytesIO(zipped.content)).namelist()
        assert sorted(names) == sorted(f"{name}.csv" for name in TABLES)
        for name, content in (("rules.xlsx", workbook.content), ("rules.zip", zipped.content)):
            same = client.post("/rules/import", files=[("files", (name, content))])
            assert same.status_code == 200 and same.json()["changed"] is False, same.text

        edited = "category,risk_colour,limit_hours\n,,72\ndispute,blue,90\n"
        dry = client.post(
            "/rules/import", files=[("files", ("time_limits.csv", edited.encode()))], data={"dry_run": "true"}
        ).json()
        assert dry["dry_run"] and not dry["stored"] and "dispute/blue" in dry["tables"]["time_limits"]["changed"]
        assert limit(tiny_engine, "dispute", "blue") == 120
        refused = client.post(
            "/rules/import", files=[("files", ("job_titles.csv", "title,role\n新岗位,nobody\n".encode()))]
        )
        assert refused.status_code == 422
        assert refused.json()["problems"][0] == {
            "file": "job_titles.csv",
            "row": 1,
            "column": "role",
            "reason": "unknown role 'nobody': it is not in the roles table",
        }
    actors = {a[0] for a in rule_audits(tiny_engine)}
    assert any(actor.startswith("admin-") for actor in actors)


def test_a_bad_cell_is_refused_in_chinese_and_in_english_on_request(tiny_url, tiny_engine):
    """A reader who asks for no language reads every problem in Chinese; ``Accept-Language: en``
    the same problems in English. The answer's keys do not change with the language."""
    with signed_in(tiny_url, accept_language=None) as client:
        limits = client.get("/rules/time_limits").json()
        row = next(i for i, r in enumerate(limits, start=1) if (r["category"], r["risk_colour"]) == ("dispute", "blue"))
        bad = [dict(r, limit_hours=-1) if i == row else r for i, r in enumerate(limits, start=1)]
        chinese = client.put("/rules/time_limits", json=bad)
        english = client.put("/rules/time_limits", json=bad, headers={"Accept-Language": "en"})
    assert chinese.status_code == english.status_code == 422
    assert chinese.headers["content-language"] == "zh" and english.headers["content-language"] == "en"
    where = {"file": "PUT /rules/time_limits", "row": row, "column": "limit_hours"}
    assert chinese.json()["problems"] == [{**where, "reason": "-1 超出范围：办理时限（小时）须在 1 至 43920 之间"}]
    assert english.json()["problems"] == [
        {**where, "reason": "-1 is out of range: the limit in hours must be 1 to 43920"}
    ]
    assert chinese.json()["message"] == (
        f"PUT /rules/time_limits 第 {row} 行 limit_hours 列：-1 超出范围：办理时限（小时）须在 1 至 43920 之间；未作任何更改"
    )
    assert english.json()["message"] == (
        f"PUT /rules/time_limits row {row}, column limit_hours: "
        "-1 is out of range: the limit in hours must be 1 to 43920; nothing was changed"
    )
    assert limit(tiny_engine, "dispute", "blue") == 168


def test_a_dry_run_is_summed_up_in_chinese_with_the_files_skipped(tiny_url, tiny_engine, tmp_path):
    folder = exported(tiny_engine, tmp_path)
    edit(folder / "time_limits.csv", "dispute,blue,168", "dispute,blue,90")
    files = [
        ("files", ("time_limits.csv", (folder / "time_limits.csv").read_bytes())),
        ("files", ("说明.txt", "请按表名命名文件".encode())),
    ]
    with signed_in(tiny_url, accept_language=None) as client:
        chinese = client.post("/rules/import", files=files, data={"dry_run": "true"})
        english = client.post("/rules/import", files=files, data={"dry_run": "true"}, headers={"Accept-Language": "en"})
    assert chinese.status_code == english.status_code == 200
    assert chinese.json()["summary"] == "将会修改：time_limits（试运行：未保存任何内容）"
    assert english.json()["summary"] == "would change: time_limits (dry run: nothing was stored)"
    assert chinese.json()["skipped"] == [{"file": "说明.txt", "reason": "不是 .csv, .xlsx, .zip 文件"}]
    assert english.json()["skipped"] == [{"file": "说明.txt", "reason": "not a .csv, .xlsx, .zip file"}]
    assert {k: v for k, v in chinese.json().items() if k not in ("summary", "skipped")} == {
        k: v for k, v in english.json().items() if k not in ("summary", "skipped")
    }


@pytest.mark.parametrize(
    ("role", "jurisdiction", "field"), [("dispatcher", None, "permission"), ("admin", TOWN, "jurisdiction")]
)
def test_only_an_administrator_over_the_county_may(tiny_url, role, jurisdiction, field):
    with signed_in(tiny_url, role=role, jurisdiction=jurisdiction) as client:
        for method, path, options in (
            ("GET", "/rules", {}),
            ("GET", "/rules/roles", {}),
            ("PUT", "/rules/roles", {"json": []}),
            ("POST", "/rules/import", {"files": [("files", ("roles.csv", b"code\n"))]}),
            ("GET", "/rules/export", {}),
        ):
            answer = client.request(method, path, **options)
            assert answer.status_code == 403 and answer.json()["field"] == field, (method, path, answer.text)


def test_the_command_line_exports_and_imports(tiny_url, tiny_engine, tmp_path):
    env = {"DATABASE_URL": tiny_url, "PATH": "/usr/bin:/bin"}

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "geo_service.cli.main", "rules", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    out = cli("export", str(tmp_path / "rules"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "rules" / "time_limits.csv").exists()
    same = cli("import", str(tmp_path / "rules"))
    assert same.returncode == 0 and "nothing changed" in same.stdout
    edit(tmp_path / "rules" / "time_limits.csv", "dispute,blue,168", "dispute,blue,96")
    dry = cli("import", str(tmp_path / "rules"), "--dry-run")
    assert "time_limits: 1 changed (dispute/blue)" in dry.stdout and limit(tiny_engine, "dispute", "blue") == 168
    assert "time_limits：修改 1 行（dispute/blue）" in dry.stdout, dry.stdout
    done = cli("import", str(tmp_path / "rules"))
    assert done.returncode == 0 and "changed: time_limits" in done.stdout
    assert limit(tiny_engine, "dispute", "blue") == 96
    edit(tmp_path / "rules" / "time_limits.csv", "dispute,blue,96", "dispute,blue,-1")
    refused = cli("import", str(tmp_path / "rules"))
    assert refused.returncode == 2
    assert "time_limits.csv row" in refused.stderr and "column limit_hours" in refused.stderr
    assert refused.stderr.startswith("错误：共 1 处问题；未作任何更改（1 problem; nothing was changed）")
    assert " limit_hours 列：-1 超出范围：办理时限（小时）须在 1 至 43920 之间（time_limits.csv row" in refused.stderr
    out = cli("export", str(tmp_path / "book"), "--format", "xlsx")
    assert out.returncode == 0 and (tmp_path / "book" / "rules.xlsx").exists()


def test_camera_kinds_have_aliases_as_the_other_values_do(tiny_engine, tmp_path):
    """The county import reads camera-kind aliases (value_aliases field camera_kind): an
    administrator may keep them, checked against the camera_kinds table."""
    (tmp_path / "value_aliases.csv").write_text("field,alias,value\ncamera_kind,天网工程,tianwang\n", encoding="utf-8")
    change = load(tiny_engine, tmp_path, dry_run=True)
    assert change.tables["value_aliases"].added == ["camera_kind/天网工程"]
    (tmp_path / "value_aliases.csv").write_text("field,alias,value\ncamera_kind,天网工程,skynet\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load(tiny_engine, tmp_path)
    assert [(p["row"], p["column"]) for p in caught.value.detail["problems"]] == [(1, "value")]
    assert "'skynet' is not a camera_kind value (see the camera_kinds table)" in caught.value.message
