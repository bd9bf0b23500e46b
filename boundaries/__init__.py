"""Boundaries of the demo county: the real outline it starts from and the generator."""
