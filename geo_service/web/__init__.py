"""The map page's own files and the third-party browser assets it is served with."""
