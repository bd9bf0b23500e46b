"""The HTTP API: FastAPI over the library."""
