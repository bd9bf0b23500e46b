"""``geo-service demo``: the demo county, generated from a seed."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import fail, table
from geo_service.i18n import reason_of, t
from geo_service.progress import rich_reporter
from geo_service.settings import get_settings

app = typer.Typer(
    help=help_text(t("The demo county (Renshou, 仁寿县, synthetic grids on its real outline)")), no_args_is_help=True
)
SEED = help_text(t("Generator seed (default: the settings' demo_seed)"))
console = Console(stderr=True, log_path=False)


@app.command(help=help_text(t("Write the demo county's boundaries (GeoPackage) and ground truth without loading them")))
def generate(
    seed: int = typer.Option(None, help=SEED),
    out: Path = typer.Option(
        None, help=help_text(t("Folder for the GeoPackage and ground truth (default boundaries/demo)"))
    ),
) -> None:
    from geo_service.demo.generator import generate as generate_county
    from geo_service.demo.generator import write_outputs

    settings = get_settings()
    with rich_reporter() as reporter:
        demo = generate_county(seed or settings.demo.demo_seed, progress=reporter.step)
        for path in write_outputs(demo, out or settings.demo.demo_dir):
            reporter.step(t("wrote {path}", path=str(path)))


@app.command(help=help_text(t("Generate the demo county and load it into the database (a no-op if already loaded)")))
def load(
    seed: int = typer.Option(None, help=SEED),
    force: bool = typer.Option(
        False, help=help_text(t("Replace the database's contents even if they are not a demo's"))
    ),
) -> None:
    from geo_service.cli.context import engine as cli_engine
    from geo_service.demo.loader import DemoLoadError, load_demo

    settings = get_settings()
    try:
        with reported(), rich_reporter() as reporter:
            result = load_demo(
                cli_engine(),
                seed or settings.demo.demo_seed,
                settings,
                output_dir=settings.demo.demo_dir,
                force=force,
                reporter=reporter,
            )
    except DemoLoadError as exc:
        fail(console, reason_of(exc))
    title = (
        t("demo county loaded ({fingerprint})", fingerprint=result.fingerprint)
        if result.loaded
        else t("demo county already loaded ({fingerprint})", fingerprint=result.fingerprint)
    )
    counts = table(t("table"), t("rows"), title=title, right=(1,))
    for name, count in result.counts.items():
        counts.add_row(name, f"{count:,}")  # the database's own table names
    Console().print(counts)


@app.command(
    "users",
    help=help_text(t("One user per role on the demo county, with fresh tokens printed (earlier demo tokens revoked)")),
)
def users_command() -> None:
    from geo_service.cli.users import demo_users_command

    demo_users_command()
