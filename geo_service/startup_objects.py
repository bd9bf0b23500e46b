"""The objects a long-running process makes at start-up, kept out of the garbage collector's way.

A worker of the service or an analysis process holds some 300,000 objects from its imports and
warm-up for its whole life. Python's collector walks every one of them at each full collection,
and a request that makes tens of thousands of objects (the cells of a density surface) triggers
several: 0.13 s of a density surface's 0.18 s went to walking them. Frozen once at start-up
(``gc.freeze``, as the Python documentation suggests for servers), they are never walked again.
"""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Collect what start-up left behind, then exempt every object alive now from collection."""
    gc.collect()
    gc.freeze()
