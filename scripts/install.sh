#!/usr/bin/env bash
# Installs what geo_service needs on Debian or Ubuntu, skipping what is already there:
# PostgreSQL with PostGIS from the distribution, and the Python environment in .venv.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --browser also installs the clients the tests drive: Chromium (the map page, headless), and
# GDAL's ogr2ogr and QGIS (Debian's gdal-bin and python3-qgis) against the features and tiles.
browser=0
[ "${1:-}" = "--browser" ] && browser=1

packages=()
command -v python3 >/dev/null || packages+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1 \
    || packages+=(postgresql postgresql-contrib postgresql-postgis)
# npm fetches the map page's browser assets once (below); Chromium only with --browser.
command -v npm >/dev/null || "$root/.venv/bin/python" -m geo_service.web.vendor --check 2>/dev/null || packages+=(npm)
[ "$browser" -eq 0 ] || command -v chromium >/dev/null || packages+=(chromium)
# A CJK font, so that pages rendered headless show Chinese rather than boxes.
[ "$browser" -eq 0 ] || dpkg -s fonts-noto-cjk >/dev/null 2>&1 || packages+=(fonts-noto-cjk)
[ "$browser" -eq 0 ] || command -v ogr2ogr >/dev/null || packages+=(gdal-bin)
[ "$browser" -eq 0 ] || /usr/bin/python3 -c 'import qgis.core' 2>/dev/null || packages+=(python3-qgis)
if ((${#packages[@]})); then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing system packages: ${packages[*]}"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${packages[@]}"
fi

# The Python environment is rebuilt only when pyproject.toml changes.
[ -x "$root/.venv/bin/python" ] || python3 -m venv "$root/.venv"
stamp="$root/.venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "installing the Python environment in .venv ..."
    "$root/.venv/bin/pip" install -q --upgrade pip
    "$root/.venv/bin/pip" install -q -e "$root[test]"
    rm -f "$root"/.venv/.installed-*
    touch "$stamp"
fi

# Browser assets (Leaflet, MapLibre GL JS): pinned npm packages, hash-checked, unpacked into the
# git-ignored geo_service/web/vendor/ and served by the service; nothing is fetched at run time.
"$root/.venv/bin/python" -m geo_service.web.vendor >/dev/null
