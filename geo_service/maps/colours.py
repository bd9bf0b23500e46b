"""How a frame is coloured on a map: categories from a palette or given colours, numbers on a
ColorBrewer colour map, and the legend saying which is which (plain HTML, no d3)."""

from __future__ import annotations

import html

import branca.colormap
import geopandas
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from geo_service.errors import InvalidInput
from geo_service.i18n import t

# A qualitative palette (ColorBrewer Set1 then Dark2) for categories without given colours.
CATEGORY_PALETTE = [
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#999999",
    "#1b9e77",
    "#d95f02",
    "#7570b3",
    "#e7298a",
    "#66a61e",
    "#e6ab02",
    "#a6761d",
    "#666666",
]
MISSING_COLOUR = "#bdbdbd"
DEFAULT_COLORMAP = "YlOrRd"


class Legend(MacroElement):
    """A small legend box in a corner of the map, drawn with plain HTML (no d3)."""

    _template = Template("""
        {% macro html(this, kwargs) %}
        <div id="{{ this.get_name() }}" style="position:absolute; z-index:1000; {{ this.corner }};
             background:rgba(255,255,255,0.9); padding:6px 8px; border-radius:4px;
             font:12px/1.4 sans-serif; box-shadow:0 1px 4px rgba(0,0,0,0.3); max-height:45%;
             overflow:auto">{{ this.body }}</div>
        {% endmacro %}
    """)

    def __init__(self, title: str, entries: list[tuple[str, str]], corner: str = "bottom:24px; right:10px") -> None:
        super().__init__()
        self._name = "Legend"
        rows = "".join(
            f'<div><span style="display:inline-block;width:12px;height:12px;margin-right:6px;'
            f'vertical-align:middle;background:{html.escape(colour)}"></span>{html.escape(label)}</div>'
            for label, colour in entries
        )
        self.body = f"<b>{html.escape(title)}</b>{rows}"
        self.corner = corner


def _colormap(name: str, low: float, high: float) -> branca.colormap.LinearColormap:
    schemes = branca.colormap.linear
    candidates = [name, f"{name}_09", f"{name}_11", f"{name}_08"]
    for candidate in candidates:
        if hasattr(schemes, candidate):
            cmap = getattr(schemes, candidate)
            return cmap.scale(low, high if high > low else low + 1)
    raise InvalidInput(
        t("unknown colour map {name!r}: give a ColorBrewer name such as 'YlOrRd', 'Blues', 'viridis'", name=name),
        field="colours",
    )


def colour_column(
    frame: geopandas.GeoDataFrame, column: str, colours: dict[str, str] | str | None
) -> tuple[pd.Series, list[tuple[str, str]]]:
    """Each row's fill colour and the legend's entries."""
    values = frame[column]
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if isinstance(colours, dict) or (colours is None and not numeric):
        if colours is None:
            levels = sorted(values.dropna().astype(str).unique())
            colours = {v: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, v in enumerate(levels)}
        colours = {str(k): v for k, v in colours.items()}
        fill = values.map(lambda v: colours.get(str(v), MISSING_COLOUR) if pd.notna(v) else MISSING_COLOUR)
        present = set(values.dropna().astype(str))
        legend = [(k, c) for k, c in colours.items() if k in present]
        if values.isna().any() or not present.issubset(colours):
            legend.append(("other / none", MISSING_COLOUR))
        return fill, legend
    if not numeric:
        raise InvalidInput(
            t("column {column!r} is not numeric: colour it with a dict of value -> colour", column=column),
            field="colours",
        )
    finite = values[np.isfinite(values.astype(float))]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    cmap = _colormap(colours or DEFAULT_COLORMAP, low, high)
    fill = values.map(lambda v: cmap(float(v)) if pd.notna(v) and np.isfinite(float(v)) else MISSING_COLOUR)
    steps = np.linspace(low, high, 5)
    legend = [(f"{v:,.4g}", cmap(float(v))) for v in steps]
    return fill, legend
