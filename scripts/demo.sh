#!/usr/bin/env bash
# One command from a fresh clone to the service on the demo county at http://127.0.0.1:8000:
# installs what is missing, starts the local PostGIS, migrates, loads the demo county, issues one
# user per role (tokens printed), serves.
# Running it again skips every step already done.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
./scripts/install.sh
.venv/bin/geo-service db up
.venv/bin/geo-service db migrate
.venv/bin/geo-service demo load
.venv/bin/geo-service demo users   # one user per role; their tokens are printed here, once
exec .venv/bin/geo-service serve "$@"
