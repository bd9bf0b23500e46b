"""``geo-service outbox``: deliver the notifications, queue reminders, or run both as a service."""

from __future__ import annotations

import signal
import threading
from datetime import timedelta

import typer

from geo_service.cli.errors import reported
from geo_service.cli.help_text import help_text
from geo_service.cli.terminal import echo
from geo_service.i18n import t

outbox_app = typer.Typer(help=help_text(t("The outbox of notifications")), no_args_is_help=True)
# Help texts two commands share.
WEBHOOK = help_text(t("POST to this URL instead of the settings' (default: the log file)"))
DUE_WITHIN = help_text(t("Remind of deadlines within this many hours (default: settings, 24)"))


def _sender(webhook: str | None):
    from geo_service.cases.outbox import LogSender, WebhookSender
    from geo_service.cli.context import settings as cli_settings

    rules = cli_settings().cases
    url = webhook or rules.outbox_webhook_url
    return (WebhookSender(url) if url else LogSender(rules.outbox_log)), (None if url else rules.outbox_log)


@outbox_app.command(
    "send", help=help_text(t("Deliver the notifications that are due, with retries for those that fail"))
)
def outbox_send(
    limit: int = typer.Option(1000, help=help_text(t("Send at most this many messages"))),
    webhook: str = typer.Option(None, help=WEBHOOK),
) -> None:
    from geo_service.cases.outbox import deliver
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings

    sender, log = _sender(webhook)
    with reported():
        done = deliver(cli_engine(), sender, limit, zone=cli_settings().place.timezone)
    counts = dict(sent=done.sent, failed=done.failed)
    if log:
        echo(t("{sent:,} sent, {failed:,} failed (to be retried); written to {log}", **counts, log=str(log)), err=True)
    else:
        echo(t("{sent:,} sent, {failed:,} failed (to be retried)", **counts), err=True)


@outbox_app.command(
    "remind", help=help_text(t("Queue reminders for the cases whose deadline draws near (once per deadline)"))
)
def outbox_remind(due_within: float = typer.Option(None, help=DUE_WITHIN)) -> None:
    from geo_service.cases.sla import remind_due
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings

    settings = cli_settings()
    within = timedelta(hours=due_within or settings.cases.due_soon_hours)
    with reported(), cli_engine().begin() as connection:
        count = remind_due(connection, None, within, settings.place.timezone)
    echo(t("{count:,} cases reminded; `geo-service outbox send` delivers the messages", count=count), err=True)


@outbox_app.command(
    "run",
    help=help_text(
        t(
            "Deliver notifications and queue reminders on schedule until stopped (SIGTERM or Ctrl-C): "
            "the sender as a service (`geo-service systemd` writes its unit)"
        )
    ),
)
def outbox_run(
    interval: float = typer.Option(10.0, help=help_text(t("Seconds between rounds of sending"))),
    remind_every: float = typer.Option(600.0, help=help_text(t("Seconds between rounds of reminders"))),
    due_within: float = typer.Option(None, help=DUE_WITHIN),
    webhook: str = typer.Option(None, help=WEBHOOK),
    duration: float = typer.Option(
        None, "--for", help=help_text(t("Stop after this many seconds (default: run until stopped)"))
    ),
) -> None:
    from geo_service.cases.outbox_run import run
    from geo_service.cli.context import engine as cli_engine
    from geo_service.cli.context import settings as cli_settings

    settings = cli_settings()
    sender, log = _sender(webhook)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    every = dict(interval=interval, remind_every=remind_every)
    if log:
        said = t(
            "outbox running: sending every {interval:g} s, reminders every {remind_every:g} s, written to {log}",
            **every,
            log=str(log),
        )
    else:
        said = t("outbox running: sending every {interval:g} s, reminders every {remind_every:g} s", **every)
    echo(said, err=True)
    with reported():
        totals = run(
            cli_engine(),
            sender,
            zone=settings.place.timezone,
            remind_within=timedelta(hours=due_within or settings.cases.due_soon_hours),
            interval_s=interval,
            remind_every_s=remind_every,
            stop=stop,
            duration_s=duration,
            report=lambda line: echo(line, err=True),
        )
    said = t(
        "outbox stopped after {rounds:,} rounds: {sent:,} sent, {failed:,} failed, {reminded:,} cases reminded",
        rounds=totals.rounds,
        sent=totals.sent,
        failed=totals.failed,
        reminded=totals.reminded,
    )
    echo(said, err=True)
