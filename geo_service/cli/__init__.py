"""The ``geo-service`` command line: a thin face over the library."""
