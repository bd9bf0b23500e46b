"""Drafts: a planner's grids stored as a boundary version that no lookup uses until it is published.

A draft carries its own copy of the towns and villages of the version it was based on, so that
it is complete on its own: publishing it changes which version is in force and nothing else. An
import is one transaction: a file with any problem leaves the database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from geo_service.auth import audit
from geo_service.boundaries.file_reading import BoundaryFile
from geo_service.boundaries.versions import Version, find_version, name_taken, version_in_force
from geo_service.db.copy import copy_frame
from geo_service.db.partitions import ensure_county_partitions
from geo_service.errors import Conflict, InvalidInput
from geo_service.i18n import t
from geo_service.progress import Reporter, Silent
from geo_service.settings import Settings
from geo_service.times import now
from geo_service.vocabulary import STORAGE_SRID

ADMIN_COLUMNS = "code, level, kind, name, urban, population, households, geom"
GRID_COLUMNS = "code, name, level, kind, population, households, geom"


@dataclass(frozen=True)
class ImportResult:
    version: Version
    base: Version
    grids: int
    source: str
    datum: str
    replaced_villages: tuple[str, ...] | None  # None: the file is the whole county
    estimated: tuple[str, ...]
    problems: dict[str, int] = field(default_factory=dict)  # check -> count, from geo_service.boundaries.checks

    def to_dict(self) -> dict:
        return {
            "version": self.version.to_dict(),
            "base": self.base.to_dict(),
            "grids": self.grids,
            "source": self.source,
            "datum": self.datum,
            "replaced_villages": list(self.replaced_villages) if self.replaced_villages is not None else None,
            "estimated": list(self.estimated),
            "problems": self.problems,
        }


def require_draft(version: Version) -> None:
    if version.status != "draft":
        raise Conflict(
            t(
                "version {name!r} is {status}: only a draft can be changed; import into a new draft instead",
                name=version.name,
                status=version.status,
            ),
            field="version",
        )


def import_draft(
    engine: Engine,
    boundary_file: BoundaryFile,
    *,
    name: str | None = None,
    note: str | None = None,
    partial: bool = False,
    into: int | str | None = None,
    base: int | str | None = None,
    settings: Settings,
    reporter: Reporter | None = None,
    actor: str = "cli",
) -> ImportResult:
    """Store a file's grids as a draft version, all or nothing.

    Parameters
    ----------
    boundary_file : BoundaryFile
        From :func:`geo_service.boundaries.file_reading.read_boundary_file`.
    name, note : str, optional
        The new draft's name (default ``draft-<time>``) and a note.
    partial : bool
        The file redraws only the villages it has grids in; every other village keeps the
        grids of the base version. Otherwise the file is the whole county.
    into : int or str, optional
        An existing draft whose grids the file replaces (a corrected file); default a new draft.
    base : int or str, optional
        The version the draft starts from (its towns and villages, and in a partial import the
        other villages' grids); default the version in force now in the county the file's grids
        lie in (their codes say which: a file is one county's).
    settings : Settings
        The county's zone (the default name, "now") and the planning thresholds of the checks.
    """
    from geo_service.boundaries.checks import check_version  # checks build on drafts' lookups

    reporter = reporter or Silent()
    grids = boundary_file.grids
    with engine.begin() as connection:
        base_version = (
            find_version(connection, base)
            if base is not None
            else _in_force_now(connection, county_of(grids, boundary_file.source), settings)
        )
        if into is not None:
            draft = find_version(connection, into, lock=True)
            require_draft(draft)
            connection.execute(text("DELETE FROM admin_units WHERE version_id = :v"), {"v": draft.id})
            connection.execute(
                text("UPDATE boundary_versions SET note = coalesce(:note, note) WHERE id = :v"),
                {"v": draft.id, "note": note},
            )
        else:
            draft = _new_draft(connection, name, note, base_version.county_code, settings)
        reporter.step(t("draft {draft!r} from version {base!r}", draft=draft.name, base=base_version.name))
        _copy_admin_units(connection, base_version.id, draft.id)
        villages = _require_villages(connection, draft.id, grids, boundary_file.source)
        replaced = tuple(sorted(villages)) if partial else None
        if partial:
            _copy_other_grids(connection, base_version.id, draft.id, villages)
        _write_grids(connection, draft.id, base_version.id, grids, reporter)
        count = connection.execute(
            text("SELECT count(*) FROM grids WHERE version_id = :v"), {"v": draft.id}
        ).scalar_one()
        reporter.step(t("checking {count} grids ...", count=count))
        report = check_version(connection, draft.id, settings=settings)
        draft = find_version(connection, draft.id)
        audit.record(
            connection,
            actor,
            "boundaries.import",
            "boundary_version",
            draft.id,
            after={
                "name": draft.name,
                "source": boundary_file.source,
                "datum": boundary_file.datum,
                "grids": count,
                "partial": partial,
                "base": base_version.name,
            },
        )
    return ImportResult(
        version=draft,
        base=base_version,
        grids=count,
        source=boundary_file.source,
        datum=boundary_file.datum,
        replaced_villages=replaced,
        estimated=boundary_file.estimated,
        problems=report.summary(),
    )


def retire_draft(engine: Engine, ref: int | str, *, actor: str = "cli") -> Version:
    """Set a draft aside for good: it is kept for the record and can no longer be published."""
    with engine.begin() as connection:
        version = find_version(connection, ref, lock=True)
        require_draft(version)
        connection.execute(text("UPDATE boundary_versions SET status = 'retired' WHERE id = :v"), {"v": version.id})
        audit.record(
            connection,
            actor,
            "boundaries.retire",
            "boundary_version",
            version.id,
            before={"status": "draft"},
            after={"status": "retired"},
        )
        return find_version(connection, version.id)


def _in_force_now(connection: Connection, county_code: str, settings: Settings) -> Version:
    return find_version(connection, version_in_force(connection, now(settings.place.timezone), county_code).id)


def county_of(grids, source: str) -> str:
    """The one county a file's grids lie in, from their codes (12-digit county code)."""
    counties = sorted({str(code)[:6] for code in grids["code"]})
    if len(counties) != 1:
        raise InvalidInput(
            t(
                "{source}: the grids' codes name {counties_count} counties ({value}); a boundary file redraws one county",
                source=source,
                counties_count=len(counties),
                value=", ".join(counties[:5]) or "none",
            ),
            field="file",
        )
    return counties[0] + "000000"


def _new_draft(
    connection: Connection, name: str | None, note: str | None, county_code: str | None, settings: Settings
) -> Version:
    name = name or "draft-" + now(settings.place.timezone).strftime("%Y%m%d-%H%M%S")
    taken = name_taken(connection, name)
    if taken is not None:
        raise Conflict(
            t(
                "a {taken} version is already called {name!r}: choose another name, or import into that draft",
                taken=taken,
                name=name,
            ),
            field="name",
        )
    version_id = connection.execute(
        text(
            "INSERT INTO boundary_versions (name, county_code, status, note) "
            "VALUES (:n, :county, 'draft', :note) RETURNING id"
        ),
        {"n": name, "county": county_code, "note": note},
    ).scalar_one()
    if county_code is not None:  # the county's incidents have partitions (a no-op once they exist)
        ensure_county_partitions(connection, county_code)
    return find_version(connection, version_id)


def _copy_admin_units(connection: Connection, base_id: int, draft_id: int) -> None:
    """The base's county, towns and villages, level by level so parents exist before children."""
    connection.execute(
        text(f"""
        INSERT INTO admin_units (version_id, parent_id, {ADMIN_COLUMNS})
        SELECT :draft, NULL, {ADMIN_COLUMNS} FROM admin_units WHERE version_id = :base AND level = 'county'
    """),
        {"draft": draft_id, "base": base_id},
    )
    for level in ("town", "village"):
        connection.execute(
            text(f"""
            INSERT INTO admin_units (version_id, parent_id, {ADMIN_COLUMNS})
            SELECT :draft, dp.id, {", ".join("b." + c.strip() for c in ADMIN_COLUMNS.split(","))}
              FROM admin_units b
              JOIN admin_units bp ON bp.id = b.parent_id
              JOIN admin_units dp ON dp.version_id = :draft AND dp.code = bp.code
             WHERE b.version_id = :base AND b.level = :level
        """),
            {"draft": draft_id, "base": base_id, "level": level},
        )


def _require_villages(connection: Connection, draft_id: int, grids, source: str) -> set[str]:
    known = set(
        connection.execute(
            text("SELECT code FROM admin_units WHERE version_id = :v AND level = 'village'"), {"v": draft_id}
        ).scalars()
    )
    problems = [
        {
            "feature": int(feature),
            "code": code,
            "field": "code",
            "reason": t("its village {village} is not a village or community of this county", village=code[:12]),
        }
        for feature, code in zip(grids["feature"], grids["code"])
        if code[:12] not in known
    ]
    if problems:
        first = problems[0]
        raise InvalidInput(
            t(
                "{source}: {where}: {field}: {reason}{more}; nothing was imported",
                source=source,
                where=t("feature {feature}", feature=first["feature"]),
                field="code",
                reason=first["reason"],
                more=t(" (and {count} more problems)", count=len(problems) - 1) if len(problems) > 1 else "",
            ),
            field="file",
            problems=problems,
        )
    return set(grids["code"].str[:12])


def _copy_other_grids(connection: Connection, base_id: int, draft_id: int, villages: set[str]) -> None:
    """In a partial import, the grids of every village the file does not redraw, unchanged."""
    for level in (1, 2, 3):
        connection.execute(
            text(f"""
            INSERT INTO grids (version_id, village_id, parent_id, {GRID_COLUMNS})
            SELECT :draft, dv.id, dp.id, {", ".join("b." + c.strip() for c in GRID_COLUMNS.split(","))}
              FROM grids b
              JOIN admin_units bv ON bv.id = b.village_id
              JOIN admin_units dv ON dv.version_id = :draft AND dv.code = bv.code
              LEFT JOIN grids bp ON bp.id = b.parent_id
              LEFT JOIN grids dp ON dp.version_id = :draft AND dp.code = bp.code
             WHERE b.version_id = :base AND b.level = :level AND NOT (bv.code = ANY(:villages))
        """),
            {"draft": draft_id, "base": base_id, "level": level, "villages": sorted(villages)},
        )


# Households and residents a file does not give are estimated from the base version's grids of the
# same level, in proportion to the area shared (residents spread evenly within a grid).
_ESTIMATE = text("""
    UPDATE import_grids i SET households = coalesce(i.households, e.households),
                              population = coalesce(i.population, e.population)
      FROM (SELECT i.code,
                   round(sum(b.households * s.share))::int AS households,
                   round(sum(b.population * s.share))::int AS population
              FROM import_grids i
              JOIN grids b ON b.version_id = :base AND b.level = i.level AND ST_Intersects(b.geom, i.geom)
              CROSS JOIN LATERAL (
                  SELECT ST_Area(ST_Intersection(ST_MakeValid(i.geom), b.geom)::geography)
                         / nullif(ST_Area(b.geom::geography), 0) AS share) s
             GROUP BY i.code) e
     WHERE e.code = i.code AND (i.households IS NULL OR i.population IS NULL)
""")


def _write_grids(connection: Connection, draft_id: int, base_id: int, grids, reporter: Reporter) -> None:
    connection.execute(
        text(f"""
        CREATE TEMP TABLE import_grids (
            feature int, code text, name text, level smallint, kind text,
            households int, population int, geom geometry(MultiPolygon, {STORAGE_SRID})
        ) ON COMMIT DROP
    """)
    )
    cursor = connection.connection.driver_connection.cursor()
    copy_frame(
        cursor,
        "import_grids",
        grids,
        ["feature", "code", "name", "level", "kind", "households", "population", "geom"],
        advance=reporter.task(t("grids"), len(grids)),
    )
    connection.execute(_ESTIMATE, {"base": base_id})
    for level in (1, 2, 3):
        connection.execute(
            text("""
            INSERT INTO grids (version_id, village_id, parent_id, code, name, level, kind, population, households, geom)
            SELECT :draft, v.id, p.id, i.code, i.name, i.level,
                   coalesce(i.kind, CASE WHEN v.urban THEN 'urban' ELSE 'rural' END),
                   coalesce(i.population, 0), coalesce(i.households, 0), i.geom
              FROM import_grids i
              JOIN admin_units v ON v.version_id = :draft AND v.code = left(i.code, 12)
              LEFT JOIN grids p ON p.version_id = :draft AND p.code = left(i.code, length(i.code) - 3) AND i.level > 1
             WHERE i.level = :level
             ORDER BY i.feature
        """),
            {"draft": draft_id, "level": level},
        )
