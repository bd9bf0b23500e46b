"""Loading the demo county into PostGIS.

The county is generated from a seed by ``geo_service.demo.generator``; this module writes it into the
database in one transaction, so a load either completes or leaves the database as it was.
A load is recorded with a fingerprint of the seed and of the code that generates it, so loading
the same demo again is a fast no-op and a changed generator replaces the old demo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from geo_service.cases import writer
from geo_service.cases.states import HANDLING
from geo_service.db.copy import copy_frame
from geo_service.db.migrate import current_revision, head_revision
from geo_service.db.partitions import NO_COUNTY, ensure_county_partitions
from geo_service.i18n import t
from geo_service.lookup.bulk_assign import assign_points, snapshot
from geo_service.progress import Reporter, Silent
from geo_service.rules.seed import seed_rules
from geo_service.settings import PACKAGE_DIR, PROJECT_ROOT, Settings
from geo_service.times import DEFAULT_ZONE

DEMO_VERSION_NAME = "demo-{seed}"
# The demo's boundaries are in force from before the first incident of its year (the demo county
# keeps Beijing time, as its generator does).
DEMO_BOUNDARIES_FROM = datetime(2024, 1, 1, tzinfo=ZoneInfo(DEFAULT_ZONE))
DATA_TABLES = (
    "audit_log",
    "outbox",
    "incident_extensions",
    "incident_events",
    "incident_officers",
    "incidents",
    "cameras",
    "officer_assignments",
    "officers",
    "grids",
    "admin_units",
    "boundary_versions",
    "time_limit_rules",
    "responsibility_rules",
    "roles",
    "sources",
    "categories",
    "service_meta",
)


class DemoLoadError(RuntimeError):
    """The demo cannot be loaded here; the message says why and what to do."""


@dataclass(frozen=True)
class LoadResult:
    loaded: bool
    fingerprint: str
    counts: dict[str, int]


def fingerprint(seed: int) -> str:
    """A hash of everything the demo's contents depend on: seed, generator, rules, schema."""
    digest = hashlib.sha256(f"seed={seed};schema={head_revision()}".encode())
    sources = sorted((PROJECT_ROOT / "boundaries" / "sources").glob("*.geojson"))
    sources += sorted((PACKAGE_DIR / "rules").glob("*.csv"))
    for folder in ("demo", "demo/generator", "coordinates", "lookup", "cases"):
        sources += sorted((PACKAGE_DIR / folder).glob("*.py"))
    sources += [PACKAGE_DIR / name for name in ("db/copy.py", "rules/seed.py")]
    for path in sources:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def loaded_fingerprint(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(text("SELECT value FROM service_meta WHERE key = 'demo_fingerprint'")).scalar()


def _holds_other_data(connection) -> bool:
    """True when the database has rows that a demo load did not write."""
    demo = connection.execute(text("SELECT count(*) FROM service_meta WHERE key = 'demo_fingerprint'")).scalar()
    if demo:
        return False
    return bool(
        connection.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM incidents) OR EXISTS (SELECT 1 FROM grids) "
                "OR EXISTS (SELECT 1 FROM officers)"
            )
        ).scalar()
    )


def load_demo(
    engine: Engine,
    seed: int,
    settings: Settings,
    *,
    output_dir: Path | None = None,
    force: bool = False,
    reporter: Reporter | None = None,
) -> LoadResult:
    """Generate the demo county from ``seed`` and load it, unless it is loaded already.

    Parameters
    ----------
    engine
        The database, migrated to the current schema.
    seed
        The generator's seed; the same seed gives the same county.
    settings
        The county's zone (whose day decides who is bound to a running case) and the coverage of
        the grid lookups that assign the demo's incidents.
    output_dir
        Where to write the county's GeoPackage and ground-truth file for planners and analysts.
    force
        Replace whatever the database holds, even data that is not a demo's.
    """
    reporter = reporter or Silent()
    wanted = fingerprint(seed)
    revision = current_revision(engine.url.render_as_string(hide_password=False))
    if revision != head_revision():
        raise DemoLoadError(
            t(
                "the database schema is at {revision}, not {head}: run `geo-service db migrate`",
                revision=revision or t("nothing"),
                head=head_revision(),
            )
        )
    with engine.connect() as connection:
        if not force and _holds_other_data(connection):
            raise DemoLoadError(
                t(
                    "the database holds grids, officers or incidents that are not the demo's; "
                    "load the demo into an empty database, or pass --force to replace them"
                )
            )
    if loaded_fingerprint(engine) == wanted and not force:
        reporter.step(t("demo county (seed {seed}) already loaded", seed=seed))
        return LoadResult(False, wanted, table_counts(engine))

    from geo_service.demo.generator import generate, write_outputs

    reporter.step(t("generating the demo county from seed {seed} ...", seed=seed))
    demo = generate(seed, progress=reporter.step)
    if output_dir is not None:
        for path in write_outputs(demo, output_dir):
            reporter.step(t("wrote {path}", path=str(path)))
    with engine.begin() as connection:
        # COPY goes through the DBAPI cursor of the same connection, in the same transaction.
        _write(connection, connection.connection.cursor(), demo, seed, wanted, settings, reporter)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    return LoadResult(True, wanted, table_counts(engine))


def _write(connection, cursor, demo, seed: int, wanted: str, settings: Settings, reporter: Reporter) -> None:
    reporter.step(t("clearing the previous contents ..."))
    cursor.execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")
    seed_rules(cursor)

    # The boundaries are written into a draft and published once they are complete, as every
    # version is (``geo_service.county.place_versions``): a published version takes no new rows.
    cursor.execute(
        "INSERT INTO boundary_versions (name, status, note) VALUES (%s, 'draft', %s) RETURNING id",
        (DEMO_VERSION_NAME.format(seed=seed), f"demo county generated from seed {seed}"),
    )
    version_id = cursor.fetchone()[0]
    # The county's incidents and timelines go into partitions of their own, made before them.
    ensure_county_partitions(connection, str(demo.county["code"].iloc[0]))

    # Admin units: ids given here so parents can be referred to before they are written.
    units = pd.concat(
        [
            demo.county.assign(level="county", urban=False),
            demo.towns.assign(level="town", urban=False),
            demo.villages.assign(level="village"),
        ],
        ignore_index=True,
    )
    units["id"] = np.arange(1, len(units) + 1)
    unit_ids = dict(zip(units["code"], units["id"]))
    units["parent_id"] = units["parent_code"].map(unit_ids).astype("Int64")
    units["version_id"] = version_id
    copy_frame(
        cursor,
        "admin_units",
        units,
        ["id", "version_id", "code", "level", "kind", "name", "parent_id", "urban", "population", "households", "geom"],
        advance=reporter.task(t("admin units"), len(units)),
    )

    grids = demo.grids.sort_values(["level", "code"]).reset_index(drop=True)
    grids["id"] = np.arange(1, len(grids) + 1)
    grid_ids = dict(zip(grids["code"], grids["id"]))
    grids["parent_id"] = grids["parent_code"].map(grid_ids).astype("Int64")
    grids["village_id"] = grids["village_code"].map(unit_ids)
    grids["version_id"] = version_id
    if grids["village_id"].isna().any():
        raise DemoLoadError(t("the generator produced grids whose village is unknown"))
    copy_frame(
        cursor,
        "grids",
        grids,
        [
            "id",
            "version_id",
            "code",
            "name",
            "level",
            "kind",
            "parent_id",
            "village_id",
            "population",
            "households",
            "geom",
        ],
        advance=reporter.task(t("grids"), len(grids)),
    )
    cursor.execute(
        "UPDATE boundary_versions SET status = 'published', effective_from = %s, published_at = now() WHERE id = %s",
        (DEMO_BOUNDARIES_FROM, version_id),
    )

    officers = demo.officers.rename(columns={"officer_code": "code"}).reset_index(drop=True)
    officers["id"] = np.arange(1, len(officers) + 1)
    copy_frame(
        cursor,
        "officers",
        officers,
        ["id", "code", "name", "phone", "gender"],
        advance=reporter.task(t("officers"), len(officers)),
    )
    assignments = demo.assignments.copy()
    assignments["officer_id"] = assignments["officer_code"].map(dict(zip(officers["code"], officers["id"])))
    copy_frame(
        cursor,
        "officer_assignments",
        assignments,
        ["officer_id", "role", "unit_code", "valid_from", "valid_to"],
        advance=reporter.task(t("responsibilities"), len(assignments)),
    )

    copy_frame(
        cursor,
        "cameras",
        demo.cameras,
        ["device_code", "name", "kind", "heading_deg", "fov_deg", "range_m", "status", "installed_on", "geom"],
        advance=reporter.task(t("cameras"), len(demo.cameras)),
    )

    # The incidents, their timelines and the people of the cases still being handled, written as
    # every case is (``geo_service.cases.writer``), as a case recorded today would be bound.
    incidents = _assigned_incidents(connection, demo, version_id, settings, reporter)
    writer.insert_incidents(connection, incidents, reporter)
    events = demo.events.copy()
    events["incident_id"] = events["external_id"].map(dict(zip(incidents["external_id"], incidents["id"])))
    stored_county = dict(zip(incidents["external_id"], incidents["county_code"].fillna(NO_COUNTY)))
    events["county_code"] = events["external_id"].map(stored_county)  # the partition key, as written
    writer.add_events(connection, events, reporter)
    running = incidents[incidents["status"].isin(HANDLING) & incidents["grid_code"].notna()]
    writer.bind(connection, running, "village", datetime.now(UTC), settings.place.timezone, reporter=reporter)

    for table in ("admin_units", "grids", "officers"):
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    for key, value in (("demo_seed", str(seed)), ("demo_fingerprint", wanted)):
        cursor.execute(
            "INSERT INTO service_meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()",
            (key, value),
        )


def _assigned_incidents(connection, demo, version_id: int, settings: Settings, reporter: Reporter) -> pd.DataFrame:
    """The demo's incidents located from their input coordinates and assigned to grids, as any
    batch of points is (``geo_service.lookup.bulk_assign``), against the grids written in this
    transaction; numbered in the generator's order, so a seed always gives the same ids."""
    generated = demo.incidents.reset_index(drop=True)
    snap = snapshot(connection, DEMO_BOUNDARIES_FROM, settings)
    found = assign_points(
        snap,
        generated["input_lon"].to_numpy(dtype=float),
        generated["input_lat"].to_numpy(dtype=float),
        generated["input_datum"].to_numpy(object),
        reporter,
    )
    incidents = pd.DataFrame(generated.drop(columns=generated.geometry.name))
    incidents["lon"], incidents["lat"] = found["lon_cgcs2000"].to_numpy(), found["lat_cgcs2000"].to_numpy()
    inside = found["status"] == "assigned"
    for column in ("grid_code", "village_code", "town_code"):
        incidents[column] = found[column].where(inside, None)
    incidents["county_code"] = found["county_code"]  # the nearest grid's county routes it by hand
    incidents["version_id"] = version_id
    incidents["tier"] = "village"
    incidents["id"] = np.arange(1, len(incidents) + 1)
    incidents["satisfaction"] = incidents["satisfaction"].astype("Int64")
    return incidents


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows in each of the service's tables."""
    with engine.connect() as connection:
        return {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar() for table in DATA_TABLES}
