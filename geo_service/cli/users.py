"""``geo-service users``: who may use the service, with what role, over which part of the county."""

from __future__ import annotations

import typer
from rich.console import Console

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import cell, cells, echo, say, table
from geo_service.i18n import label, t
from geo_service.settings import get_settings

app = typer.Typer(help=help_text(t("Users: add (prints the token, once), list, revoke")), no_args_is_help=True)
out = Console()


def _engine():
    from geo_service.cli.context import engine as cli_engine

    return cli_engine()


@app.command(help=help_text(t("Add a user and print their bearer token (shown only now; only its digest is kept)")))
def add(
    name: str = typer.Argument(..., help=help_text(t("The user's name (unique)"))),
    role: str = typer.Option(..., help=help_text(t("admin, planner, dispatcher, analyst, grid_worker or leader"))),
    jurisdiction: str = typer.Option(
        None,
        help=help_text(
            t("The code of the county, a town, a village or a grid (a department's user: its county by default)")
        ),
    ),
    department: str = typer.Option(
        None, help=help_text(t("The code of the user's department: they see only the cases routed to it"))
    ),
    note: str = typer.Option(None, help=help_text(t("A note kept with the user"))),
) -> None:
    from geo_service.auth.users import add_user

    with reported():
        user, token = add_user(
            _engine(), name, role, jurisdiction, note=note, settings=get_settings(), department=department
        )
    said = dict(name=user.name, role=user.role, jurisdiction=user.jurisdiction)
    if user.department:
        say(out, t("{name}: {role} over {jurisdiction}, {department}", **said, department=user.department))
    else:
        say(out, t("{name}: {role} over {jurisdiction}", **said))
    typer.echo(token)


@app.command("list", help=help_text(t("Users with their role and jurisdiction (never their tokens)")))
def list_command(all_: bool = typer.Option(False, "--all", help=help_text(t("Include revoked users")))) -> None:
    from geo_service.auth.users import list_users

    with reported():
        users = list_users(_engine(), include_revoked=all_)
    listed = table(
        t("full name"), t("user role"), t("jurisdiction"), t("department"), t("created"), t("revoked"), t("note")
    )
    for u in users:
        listed.add_row(
            cell(u.name),
            label(u.role, "zh", "access_role"),
            *cells(
                u.jurisdiction,
                u.department,
                u.created_at.strftime("%Y-%m-%d %H:%M"),
                u.revoked_at.strftime("%Y-%m-%d %H:%M") if u.revoked_at else "",
                u.note,
            ),
        )
    out.print(listed)


@app.command(help=help_text(t("Revoke a user's token at once (the user stays on record)")))
def revoke(name: str = typer.Argument(..., help=help_text(t("The user whose token stops working now")))) -> None:
    from geo_service.auth.users import revoke_user

    with reported():
        user = revoke_user(_engine(), name)
    say(out, t("{name} is revoked", name=user.name))


def demo_users_command() -> None:
    """One user per role on the demo county, with fresh tokens printed (earlier demo tokens revoked)."""
    from sqlalchemy import text

    from geo_service.auth.users import demo_users

    engine = _engine()
    with reported():
        with engine.connect() as connection:
            county, town, village, grid = connection.execute(
                text("""
                SELECT c.code, t.code, v.code, g.code
                  FROM grids g JOIN admin_units v ON v.id = g.village_id JOIN admin_units t ON t.id = v.parent_id
                  JOIN admin_units c ON c.id = t.parent_id
                 WHERE g.level = 1 ORDER BY g.code LIMIT 1""")
            ).one()
        issued = demo_users(engine, county, town, village, grid, settings=get_settings())
    # Plain lines, never a table: a token cut short by the terminal's width would be useless.
    echo(t("demo users (sign in on the map page, or send 'Authorization: Bearer <token>'):"))
    for user, token in issued:
        typer.echo(f"  {user.name:<25} {user.role:<12} {user.jurisdiction:<16} {token}")
