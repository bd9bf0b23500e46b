"""Boundary versions for planners: import a draft, check it, weigh its impact, publish, export.

A version is a generation of boundaries in MapIt's sense: a *draft* is edited freely and is never
used for lookups; a *published* version is in force from its ``effective_from`` until the next
published version takes effect (``geo_service.boundaries.versions``), and its rows are never changed again,
so incidents recorded under it keep their grid; a draft that will not be published is *retired*.

Modules: ``reading`` (a planner's file to a checked frame), ``drafts`` (a frame to a draft
version, all or nothing), ``checks`` (what is wrong with a version, per grid, located),
``impact`` (what a draft would change against the version in force), ``workload`` (load per
grid worker now and under a draft), ``publishing`` and ``export``.
"""
