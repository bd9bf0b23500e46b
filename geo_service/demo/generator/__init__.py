"""The demo county: a synthetic but realistic Renshou county (仁寿县) generated from a seed.

``generate(seed)`` gives towns, villages, grids, roads, officers, cameras and a year of
incidents; ``write_outputs`` writes the GeoPackage and the ground truth for planners.
"""

from .generate import DemoCounty, generate, write_outputs

__all__ = ["DemoCounty", "generate", "write_outputs"]
