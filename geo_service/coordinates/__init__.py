"""Coordinates as they come in: datums, conversion to CGCS2000, the area covered."""
