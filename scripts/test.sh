#!/usr/bin/env bash
# The whole test suite against a real PostGIS: installs what is missing, starts the local
# cluster, and runs pytest (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/install.sh --browser  # the map page is tested in headless Chromium
# Lint and format are checked first: a style slip fails in seconds, not after the suite.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/geo-service db up
exec .venv/bin/python -m pytest "$@"
