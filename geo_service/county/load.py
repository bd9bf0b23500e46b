"""``import_county``: a county's files into the database, all or nothing, or row by row.

The import reads every file, recognises what each holds, checks it all, and writes it in one
transaction: places first (a boundary version), then the people responsible for them, the cameras
and the past cases. Any error and nothing is stored, unless ``skip_bad_rows``: then the rows in
error are left out and listed. A dry run does everything, the database's own checks included,
and rolls back, so it reports exactly what a real run would. Importing the same files again
finds nothing to change and says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth import audit
from geo_service.auth.jurisdiction import EVERYTHING, Jurisdiction
from geo_service.boundaries.versions import in_force_or_none
from geo_service.county.place_versions import write_places
from geo_service.county.places import PreparedPlaces, prepare_places
from geo_service.county.report import ImportReport
from geo_service.db.partitions import ensure_county_partitions
from geo_service.i18n import t
from geo_service.progress import Reporter, Silent
from geo_service.rules.seed import seed_rules
from geo_service.settings import Settings
from geo_service.times import local_day, now, start_of_day


def crs_options(values: list[str]) -> tuple[str | None, dict[str, str]]:
    """``--crs DATUM`` (every file that does not say its datum) and ``--crs FILE=DATUM`` (one file),
    as the command line and the upload form give them."""
    default, by_file = None, {}
    for value in values:
        name, equals, datum = value.rpartition("=")
        if equals:
            by_file[name] = datum
        else:
            default = value
    return default, by_file


class _Abort(Exception):
    """Raised inside the transaction to roll it back: a dry run, or errors without skip_bad_rows."""


def import_county(
    engine: Engine,
    paths: list[Path],
    *,
    settings: Settings,
    actor: str,
    crs: str | None = None,
    crs_by_file: dict[str, str] | None = None,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    notify_open: bool = False,
    reporter: Reporter | None = None,
    scope: Jurisdiction = EVERYTHING,
) -> ImportReport:
    """Load a county from its files.

    Parameters
    ----------
    paths : list of Path
        Files, or folders of them (zipped Shapefiles, GeoPackages, GeoJSON, CSV, xlsx).
    crs, crs_by_file : str, dict
        The datum of files that do not say theirs: for every such file, or by file name (or
        path under the folder given).
    dry_run : bool
        Check everything and store nothing.
    skip_bad_rows : bool
        Load the rows without errors and list those left; otherwise any error stores nothing.
    notify_open : bool
        Tell the people bound to the open cases imported (closed ones never notify anyone).
    scope : Jurisdiction
        The importing user's: a county outside it is refused (a city's administrator may load
        its counties, a county's only its own).

    Returns
    -------
    ImportReport
        Every file with its kind, datum, rows and problems; the gaps left; what was stored.
    """
    # The readers and writers are imported here: they bring pyogrio, calamine and the rules.
    from geo_service.county.sources import detect_offsets, read_sources

    reporter = reporter or Silent()
    report = ImportReport(dry_run=dry_run)
    reporter.step(t("reading the files ..."))
    tables = read_sources(list(paths), crs_default=crs, crs_by_file=crs_by_file or {}, report=report)
    detect_offsets(tables, report)
    usable = [t for t in tables if t.kind is not None and not t.report.fatal()]
    zone = settings.place.timezone
    with engine.connect() as connection:
        aliases = _aliases(connection)
    places = prepare_places(
        usable, unit_aliases=aliases.get("unit_kind", {}), grid_aliases=aliases.get("grid_kind", {})
    )
    if places is not None and not dry_run and scope.holds_county(places.county_code):
        # A new county's partitions lock every county's cases while they are made: in a short
        # transaction of their own, not for the whole import (an import that fails leaves them empty).
        with engine.begin() as connection:
            ensure_county_partitions(connection, places.county_code)
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            _load(connection, usable, places, report, settings, actor, notify_open, reporter, scope)
            if report.error_count and not skip_bad_rows:
                raise _Abort("errors")
            if dry_run:
                raise _Abort("dry run")
            transaction.commit()
            report.stored = True
        except _Abort:
            transaction.rollback()
            report.stored = False
        except Exception:
            transaction.rollback()
            raise
    if not report.stored:
        for file in report.files:
            file.loaded = 0
    report.summary.setdefault("zone", zone)
    return report


def _load(
    connection: Connection,
    tables: list,
    places: PreparedPlaces | None,
    report: ImportReport,
    settings: Settings,
    actor: str,
    notify_open: bool,
    reporter: Reporter,
    scope: Jurisdiction,
) -> None:
    from geo_service.county import cameras, history, roster

    zone = settings.place.timezone
    seed_rules(connection.connection.cursor())
    by_kind = {kind: [t for t in tables if t.kind == kind] for kind in ("roster", "cameras", "incidents")}
    changed = False
    levels: dict[str, str] = {}
    if places is not None and not scope.holds_county(places.county_code):
        towns_report = next(t.report for t in tables if t.kind == "towns")
        towns_report.error(
            None,
            None,
            t(
                "county {county} lies outside your jurisdiction {code} ({name}): nothing of it can be imported by you",
                county=places.county_code[:6],
                code=scope.code,
                name=scope.name,
            ),
        )
        return
    if places is not None:
        reporter.step(t("writing and checking the boundaries ..."))
        towns_report = next(t.report for t in tables if t.kind == "towns")
        written = write_places(
            connection,
            places,
            effective_from=_first_moment(by_kind["incidents"], zone),
            settings=settings,
            towns_report=towns_report,
        )
        report.summary["boundaries"] = {"outcome": written.outcome, "version": written.version_id, **written.counts}
        changed |= written.outcome in ("published", "draft")
        for table in tables:
            if table.kind in ("county", "towns", "villages", "grids"):
                table.report.loaded = len(table.frame) - len(table.report.bad_rows())
        levels = places.unit_levels
    else:
        levels = _levels_in_force(connection, zone, scope)
    if not levels:
        for kind in ("roster", "cameras", "incidents"):
            for table in by_kind[kind]:
                table.report.error(
                    None,
                    None,
                    t(
                        "no towns, villages or grids to place these rows in: "
                        "import the county's boundaries first or with them"
                    ),
                )
        return

    today = local_day(now(zone), zone)
    for table in by_kind["roster"]:
        reporter.step(t("people of {file} ...", file=table.path))
        prepared = roster.prepare_roster(connection, table, units=levels, zone=zone)
        counts = roster.write_roster(connection, prepared, effective=today, actor=actor)
        report.summary.setdefault("roster", {}).update(counts)
        table.report.loaded = len(table.frame) - len(table.report.bad_rows())
        changed |= _changed(counts)
    for table in by_kind["cameras"]:
        reporter.step(t("cameras of {file} ...", file=table.path))
        prepared = cameras.prepare_cameras(connection, table, units=levels)
        counts = cameras.write_cameras(connection, prepared, actor=actor)
        report.summary.setdefault("cameras", {}).update(counts)
        table.report.loaded = len(table.frame) - len(table.report.bad_rows())
        changed |= _changed(counts)
    has_grids = places is None or not places.grids.empty
    for table in by_kind["incidents"]:
        if not has_grids:
            table.report.error(
                None,
                None,
                t("no grids were loaded (see the grids file's problems): past cases cannot be placed in their grids"),
            )
            continue
        reporter.step(t("cases of {file} ...", file=table.path))
        prepared = history.prepare_history(connection, table, settings=settings, county_units=set(levels))
        counts = history.write_history(
            connection, prepared, settings=settings, actor=actor, notify_open=notify_open, reporter=reporter
        )
        report.summary.setdefault("incidents", {}).update(counts)
        table.report.loaded = int(counts.get("created", 0)) + int(counts.get("existing", 0))
        changed |= bool(counts.get("created"))
    report.gaps = roster.roster_gaps(connection, levels, today)
    report.changed = changed
    if changed:
        audit.record(
            connection,
            actor,
            "county.import",
            "county",
            next(iter(levels), None),
            after={"files": [f.path for f in report.files], "summary": report.summary},
        )


def _aliases(connection: Connection) -> dict[str, dict[str, str]]:
    """The names county files use for the service's values: the defaults (which the import seeds
    into an empty database) overlaid by what an administrator has changed."""
    from geo_service.rules import read_rule_table

    aliases: dict[str, dict[str, str]] = {}
    defaults = read_rule_table("value_aliases")
    for field, alias, value in defaults[["field", "alias", "value"]].itertuples(index=False):
        aliases.setdefault(field, {})[alias] = value
    for field, alias, value in connection.execute(text("SELECT field, alias, value FROM value_aliases")).all():
        aliases.setdefault(field, {})[alias] = value
    return aliases


def _first_moment(incident_tables: list, zone: str) -> datetime:
    """When a county's first boundaries take effect: before its earliest past case, so every case
    is placed by them, or now when it brings none."""
    from geo_service.county.case_values import column_text, read_case_times

    earliest = now(zone)
    for table in incident_tables:
        if "reported_at" in table.frame:
            times, _ = read_case_times(column_text(table.frame, "reported_at"), zone)
            if times.notna().any():
                earliest = min(earliest, times.min().to_pydatetime())
    return start_of_day(local_day(earliest, zone) - timedelta(days=1), zone)


def _levels_in_force(connection: Connection, zone: str, scope: Jurisdiction) -> dict[str, str]:
    """The units and grids of the boundaries in force in the counties of ``scope``, for files that
    bring no boundaries."""
    current = in_force_or_none(connection, now(zone))
    if current is None:
        return {}
    counties = [v.id for v in current.versions if scope.holds_county(v.county_code)]
    rows = connection.execute(
        text(
            "SELECT code, level FROM admin_units WHERE version_id = ANY(:v) UNION ALL "
            "SELECT code, 'grid' FROM grids WHERE version_id = ANY(:v)"
        ),
        {"v": counties},
    ).all()
    return dict(rows)


def _changed(counts: dict[str, int]) -> bool:
    return any(v for k, v in counts.items() if not k.endswith("unchanged") and k != "existing" and isinstance(v, int))
