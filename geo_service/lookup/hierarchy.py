"""A grid with the village, town and county it lies in (aliases g, v, t, c): the one place this
join is written, for the lookups of one point and of many."""

GRID_HIERARCHY = """
      FROM grids g
      JOIN admin_units v ON v.id = g.village_id
      JOIN admin_units t ON t.id = v.parent_id
      JOIN admin_units c ON c.id = t.parent_id
"""
