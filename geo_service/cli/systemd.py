"""``geo-service systemd --out DIR``: systemd units that run the service for years.

* ``geo-service.service``: the API; ``systemctl stop`` sends SIGTERM, the requests in flight finish
  (up to ``graceful_timeout_s``) and the process exits 0; it is restarted if it ever fails.
* ``geo-service-outbox.service`` and ``.timer``: ``geo-service outbox send`` every minute (it sends
  what is due and exits; a run still going when the next is due is not started twice).
* ``geo-service-remind.service`` and ``.timer``: ``geo-service outbox remind`` every ten minutes.
* with the local cluster, ``geo-service-db.service``: ``geo-service db up`` at boot, ``db down`` at
  shutdown, before and after the others; with an external PostGIS (``DATABASE_URL``) the units
  only wait for the network.

The units run in the checkout (its ``.env`` is read from there) as the user given, and read
``/etc/default/geo-service`` for settings too when it exists.
"""

from __future__ import annotations

import getpass
import shlex
import shutil
import sys
from pathlib import Path

import typer

from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import echo
from geo_service.i18n import t
from geo_service.settings import PROJECT_ROOT, Settings, get_settings

ENV_FILE = "/etc/default/geo-service"
HELP = help_text(t("Write systemd units for the service, the outbox sender and reminders (and the local cluster)"))


def _common(root: Path, user: str) -> str:
    return f"User={user}\nWorkingDirectory={root}\nEnvironmentFile=-{ENV_FILE}\n"


def unit_files(executable: str, root: Path, user: str, settings: Settings) -> dict[str, str]:
    """The units' names and texts, for the service at ``root`` run by ``executable`` as ``user``."""
    local = settings.database.uses_local_cluster
    command = shlex.quote(executable)
    after = "network-online.target" + (" geo-service-db.service" if local else "")
    needs = "Requires=geo-service-db.service\n" if local else ""
    stop_s = int(settings.serving.graceful_timeout_s) + 15
    units = {
        "geo-service.service": f"""[Unit]
Description=geo_service: the API of grid-based community governance
Wants=network-online.target
After={after}
{needs}
[Service]
Type=exec
{_common(root, user)}ExecStart={command} serve --host {settings.serving.host} --port {settings.serving.port}
# SIGTERM: the requests in flight finish, new connections are refused, the exit is 0.
KillSignal=SIGTERM
KillMode=mixed
TimeoutStopSec={stop_s}
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
""",
        "geo-service-outbox.service": f"""[Unit]
Description=geo_service: deliver notifications and queue reminders of deadlines, on schedule
After={after}
{needs}
[Service]
Type=simple
{_common(root, user)}ExecStart={command} outbox run
Restart=on-failure
RestartSec=5s
KillSignal=SIGTERM
TimeoutStopSec=60

[Install]
WantedBy=multi-user.target
""",
    }
    if local:
        units["geo-service-db.service"] = f"""[Unit]
Description=geo_service: the local PostgreSQL cluster with PostGIS
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
{_common(root, user)}ExecStart={command} db up
ExecStop={command} db down
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target
"""
    return units


def systemd_command(
    out: Path = typer.Option(..., "--out", help=help_text(t("Folder to write the unit files into"))),
    user: str = typer.Option(None, help=help_text(t("The user the units run as (default: you)"))),
) -> None:
    """``geo-service systemd`` (its help: :data:`HELP`)."""
    settings = get_settings()
    executable = shutil.which("geo-service") or str(Path(sys.executable).with_name("geo-service"))
    units = unit_files(executable, PROJECT_ROOT, user or getpass.getuser(), settings)
    out.mkdir(parents=True, exist_ok=True)
    for name, body in units.items():
        (out / name).write_text(body)
    enable = ["geo-service.service", "geo-service-outbox.service"]
    if "geo-service-db.service" in units:
        enable.insert(0, "geo-service-db.service")
    echo(t("wrote {count} units to {out}; install them with", count=len(units), out=str(out)), err=True)
    typer.echo(f"  sudo cp {out}/geo-service* /etc/systemd/system/ && sudo systemctl daemon-reload", err=True)
    typer.echo(f"  sudo systemctl enable --now {' '.join(enable)}", err=True)
    said = t(
        "settings: {env} or {env_file} (GEO_SERVICE_*=..., DATABASE_URL=...)",
        env=str(PROJECT_ROOT / ".env"),
        env_file=str(ENV_FILE),
    )
    echo(said, err=True)
