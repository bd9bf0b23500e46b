"""Third-party browser assets (Leaflet, MapLibre GL JS), installed from the npm registry at set-up.

County intranets reach no CDN, so the scripts and styles the map page and the folium maps need
are served by the service (or inlined into a saved HTML file). They are not committed: set-up
(``scripts/install.sh``, or ``python -m geo_service.web.vendor``) fetches each pinned package
with the npm client, which honours the machine's registry mirror and proxy settings, checks the
tarball against the integrity hash pinned here, and keeps only the files listed.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from geo_service.errors import Unavailable
from geo_service.i18n import t

VENDOR_DIR = Path(__file__).resolve().parent / "vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # npm's Subresource Integrity string of the tarball (sha512-...)
    files: tuple[str, ...]  # paths inside the tarball's package/ folder

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> Path:
        return VENDOR_DIR / self.name


PACKAGES = {
    "leaflet": Package(
        "leaflet",
        "1.9.4",
        "sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA==",
        (
            "dist/leaflet.js",
            "dist/leaflet.css",
            "dist/images/layers.png",
            "dist/images/layers-2x.png",
            "dist/images/marker-icon.png",
            "dist/images/marker-icon-2x.png",
            "dist/images/marker-shadow.png",
            "LICENSE",
        ),
    ),
    # 5.x: the last line shipping a single-file UMD build (6.x is ES modules with a separate worker).
    "maplibre-gl": Package(
        "maplibre-gl",
        "5.24.1",
        "sha512-HyiYBwtsbk3L1n1EPLJHWqdoyMiF80n7tEYXFZyu2m1TjvaNx6KMLiFeDdmszt1/mq2zvsR1TJuX/NMu5BonXQ==",
        ("dist/maplibre-gl.js", "dist/maplibre-gl.css", "LICENSE.txt"),
    ),
}


def asset_path(package: str, file: str) -> Path:
    """The installed copy of one of a package's files.

    Raises
    ------
    Unavailable
        The assets were not installed (set-up was skipped or ran without the npm client).
    """
    pkg = PACKAGES[package]
    path = pkg.folder / file
    if not path.is_file() or not _stamp(pkg).is_file():
        raise Unavailable(
            t(
                "{spec} is not installed ({name} missing): run scripts/install.sh or `python -m geo_service.web.vendor` once while the npm registry is reachable",
                spec=pkg.spec,
                name=path.name,
            )
        )
    return path


def installed(package: str) -> bool:
    return _stamp(PACKAGES[package]).is_file()


def _stamp(pkg: Package) -> Path:
    return pkg.folder / f".{pkg.version}.installed"


def _check_integrity(tarball: Path, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if digest != expected:
        raise RuntimeError(f"{tarball.name}: integrity {algorithm}-{digest} is not the pinned {integrity}")


def install(pkg: Package, npm: str = "npm") -> Path:
    """Fetch ``pkg`` with ``npm pack``, check it and unpack its listed files (skipped if done)."""
    if _stamp(pkg).is_file():
        return pkg.folder
    if shutil.which(npm) is None:
        raise RuntimeError(f"the npm client ({npm}) is needed once to fetch {pkg.spec}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", pkg.spec, "--pack-destination", tmp, "--silent"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("*.tgz")
        _check_integrity(tarball, pkg.integrity)
        if pkg.folder.exists():
            shutil.rmtree(pkg.folder)
        with tarfile.open(tarball) as archive:
            for file in pkg.files:
                member = archive.extractfile(f"package/{file}")
                if member is None:
                    raise RuntimeError(f"{pkg.spec} has no {file}")
                target = pkg.folder / file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.read())
    _stamp(pkg).touch()
    return pkg.folder


def main(argv: list[str] | None = None) -> int:
    """Install every package; with ``--check`` only answer whether all are installed (exit 0)."""
    if "--check" in (sys.argv[1:] if argv is None else argv):
        return 0 if all(installed(name) for name in PACKAGES) else 1
    for pkg in PACKAGES.values():
        done = _stamp(pkg).is_file()
        install(pkg)
        print(f"{pkg.spec}: {'already installed' if done else 'installed'} in {pkg.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
