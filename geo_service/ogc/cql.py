"""CQL2 filters (OGC API - Features Part 3) as SQL with bound values.

pygeofilter parses the text and JSON encodings into one syntax tree; :class:`BoundSQL` writes that
tree as a condition over a collection's declared properties, every literal a bind parameter (never
text spliced into SQL). What the service cannot answer (an unknown property, a function, an
arithmetic expression) is a 400 naming it.

Supported: ``AND``/``OR``/``NOT``; ``= <> < <= > >=``; ``BETWEEN``, ``LIKE`` (and ``CASEI`` for
case-insensitive matching), ``IN``, ``IS NULL``; the spatial predicates ``S_INTERSECTS``,
``S_WITHIN``, ``S_CONTAINS``, ``S_DISJOINT``, ``S_TOUCHES``, ``S_CROSSES``, ``S_OVERLAPS``,
``S_EQUALS`` and ``BBOX``; ``CASEI``, ``LOWER`` and ``UPPER``; timestamps compared as values
(``reported_at > TIMESTAMP('2026-10-01T00:00:00Z')``). Geometries are read in CRS84 (or ``filter-crs`` EPSG:4490): the two differ by less
than a metre, and both are compared with the stored CGCS2000 shapes.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import Any

from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle
from pygeofilter.parsers.cql2_json import parse as parse_json
from pygeofilter.parsers.cql2_text import parse as parse_text

from geo_service.errors import InvalidInput
from geo_service.i18n import t
from geo_service.vocabulary import STORAGE_SRID

LANGUAGES = ("cql2-text", "cql2-json")
MAX_FILTER_CHARS = 20_000
_COMPARISONS = {
    ast.ComparisonOp.EQ: "=",
    ast.ComparisonOp.NE: "<>",
    ast.ComparisonOp.LT: "<",
    ast.ComparisonOp.LE: "<=",
    ast.ComparisonOp.GT: ">",
    ast.ComparisonOp.GE: ">=",
}
_SPATIAL = {
    ast.SpatialComparisonOp.INTERSECTS: "ST_Intersects",
    ast.SpatialComparisonOp.DISJOINT: "ST_Disjoint",
    ast.SpatialComparisonOp.CONTAINS: "ST_Contains",
    ast.SpatialComparisonOp.WITHIN: "ST_Within",
    ast.SpatialComparisonOp.TOUCHES: "ST_Touches",
    ast.SpatialComparisonOp.CROSSES: "ST_Crosses",
    ast.SpatialComparisonOp.OVERLAPS: "ST_Overlaps",
    ast.SpatialComparisonOp.EQUALS: "ST_Equals",
}
_TEMPORAL = {
    ast.TemporalComparisonOp.BEFORE: "<",
    ast.TemporalComparisonOp.AFTER: ">",
    ast.TemporalComparisonOp.TEQUALS: "=",
}
GEOMETRY_NAMES = ("geometry", "geom", "the_geom")


class FilterError(InvalidInput):
    """A filter the service cannot read or answer: a 400 naming ``filter``."""

    status_code = 400

    def __init__(self, message: str, field: str = "filter") -> None:
        super().__init__(f"{field}: {message}", field=field)


def parse_filter(raw: str, language: str | None) -> ast.Node:
    """The syntax tree of a CQL2 filter in ``language`` (``cql2-text``, the default, or ``cql2-json``)."""
    language = (language or "cql2-text").lower()
    if language not in LANGUAGES:
        raise FilterError(
            t("{language!r} is not one of {LANGUAGES}", language=language, LANGUAGES=", ".join(LANGUAGES)),
            field="filter-lang",
        )
    if len(raw) > MAX_FILTER_CHARS:
        raise FilterError(t("longer than {MAX_FILTER_CHARS:,} characters", MAX_FILTER_CHARS=MAX_FILTER_CHARS))
    try:
        return parse_json(json.loads(raw)) if language == "cql2-json" else parse_text(raw)
    except Exception as exc:  # noqa: BLE001 - the parsers raise many kinds for a malformed filter
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FilterError(t("not readable as {language}: {value}", language=language, value=reason[:300])) from None


class BoundSQL(Evaluator):
    """A syntax tree as SQL over ``columns`` (property name -> SQL expression) and ``geometry``."""

    def __init__(self, columns: dict[str, str], geometry: str, prefix: str = "cql") -> None:
        self.columns = columns
        self.geometry_column = geometry
        self.prefix = prefix
        self.params: dict[str, Any] = {}

    def bind(self, value: Any) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def adopt(self, node, *sub_args):
        what = getattr(node, "name", None) or type(node).__name__
        raise FilterError(t("{what} is not supported here", what=what))

    @handle(ast.Not)
    def not_(self, node, sub):
        return f"(NOT {sub})"

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        return f"({lhs} {node.op.value} {rhs})"

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        return f"({lhs} {_COMPARISONS[node.op]} {rhs})"

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        return f"({lhs} {'NOT ' if node.not_ else ''}BETWEEN {low} AND {high})"

    @handle(ast.Like)
    def like(self, node, lhs):
        pattern = node.pattern
        if node.wildcard != "%":
            pattern = pattern.replace(node.wildcard, "%")
        if node.singlechar != "_":
            pattern = pattern.replace(node.singlechar, "_")
        operator = "ILIKE" if node.nocase else "LIKE"
        return f"(CAST({lhs} AS text) {'NOT ' if node.not_ else ''}{operator} {self.bind(pattern)})"

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        return f"({lhs} {'NOT ' if node.not_ else ''}IN ({', '.join(options)}))"

    @handle(ast.IsNull)
    def null(self, node, lhs):
        return f"({lhs} IS {'NOT ' if node.not_ else ''}NULL)"

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial(self, node, lhs, rhs):
        return f"{_SPATIAL[node.op]}({lhs}, {rhs})"

    @handle(ast.BBox)
    def bbox(self, node, lhs):
        box = [self.bind(float(v)) for v in (node.minx, node.miny, node.maxx, node.maxy)]
        return f"ST_Intersects({lhs}, ST_MakeEnvelope({', '.join(box)}, {STORAGE_SRID}))"

    @handle(ast.TemporalPredicate, subclasses=True)
    def temporal(self, node, lhs, rhs):
        if node.op in _TEMPORAL:
            return f"({lhs} {_TEMPORAL[node.op]} {rhs})"
        if node.op == ast.TemporalComparisonOp.DURING and isinstance(node.rhs, values.Interval):
            return f"({lhs} > {rhs[0]} AND {lhs} < {rhs[1]})"
        raise FilterError(t("the temporal operator {name} is not supported here", name=node.op.name))

    @handle(ast.Function)
    def function(self, node: ast.Function, *arguments):
        name = node.name.lower()
        if name in ("lower", "upper", "casei") and len(arguments) == 1:  # CASEI arrives as lower()
            return f"{'upper' if name == 'upper' else 'lower'}(CAST({arguments[0]} AS text))"
        if name == "bbox" and len(arguments) in (4, 6):  # BBOX(...) as a geometry literal
            corners = arguments if len(arguments) == 4 else [arguments[i] for i in (0, 1, 3, 4)]
            return f"ST_MakeEnvelope({', '.join(corners)}, {STORAGE_SRID})"
        raise FilterError(
            t("the function {name} is not supported here (CASEI, LOWER, UPPER and BBOX are)", name=node.name)
        )

    @handle(ast.Attribute)
    def attribute(self, node: ast.Attribute):
        name = node.name
        if name.lower() in GEOMETRY_NAMES:
            return self.geometry_column
        if name not in self.columns:
            known = ", ".join(sorted(self.columns))
            raise FilterError(
                t("{name!r} is not a queryable property (queryables: {known}, geometry)", name=name, known=known)
            )
        return self.columns[name]

    @handle(values.Geometry, values.Envelope)
    def geometry(self, node):
        return f"ST_SetSRID(ST_GeomFromGeoJSON({self.bind(json.dumps(node.geometry))}), {STORAGE_SRID})"

    @handle(values.Interval)
    def interval(self, node: values.Interval):
        return [self.bind(node.start), self.bind(node.end)]

    @handle(*values.LITERALS)
    def literal(self, node):
        if isinstance(node, list):
            raise FilterError(t("a list is allowed only after IN"))
        if isinstance(node, (datetime, date, time, str, int, float, bool)):
            return self.bind(node)
        raise FilterError(t("the value {node!r} is not supported here", node=node))


def filter_sql(tree: ast.Node, columns: dict[str, str], geometry: str) -> tuple[str, dict[str, Any]]:
    """A condition and its bound values for a parsed filter over a collection's properties."""
    writer = BoundSQL(columns, geometry)
    return writer.evaluate(tree), writer.params
