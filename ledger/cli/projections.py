"""``ledger projections ...``: rebuild, status and follow the read models."""

from __future__ import annotations

import click
from rich.console import Console

from ledger.cli.support import (
    LedgerGroup,
    Settings,
    json_option,
    pass_settings,
    print_json,
    stop_requested,
)


@click.group(cls=LedgerGroup)
def projections() -> None:
    """Read models that follow the event log."""


@projections.command("rebuild")
@click.argument("names", nargs=-1)
@pass_settings
def projections_rebuild(settings: Settings, names: tuple[str, ...]) -> None:
    """Empty read models and replay every event into them."""
    from rich.progress import Progress

    with settings.open() as ledger:
        chosen = ledger.projections.select(names)
        head = ledger.app.recorder.max_notification_id() or 0
        with Progress(console=Console(stderr=True), transient=True) as bar:
            tasks = {p.name: bar.add_task(f"rebuilding {p.name}", total=head) for p in chosen}
            count = ledger.projections.rebuild(
                list(names),
                on_batch=lambda name, n: bar.update(
                    tasks[name], completed=ledger.projections.position(name)
                ),
            )
    click.echo(f"rebuilt {', '.join(p.name for p in chosen)}: {count} events applied")


@projections.command("status")
@json_option
@pass_settings
def projections_status(settings: Settings, as_json: bool) -> None:
    """Each read model's position against the head of the log."""
    with settings.open() as ledger:
        head = ledger.app.recorder.max_notification_id() or 0
        rows = [
            {"name": name, "position": ledger.projections.position(name), "head": head}
            for name in ledger.projections.projections
        ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        click.echo(f"{row['name']}: position {row['position']} of {row['head']}")


@projections.command("follow")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds to wait between catch-ups.",
)
@click.option("--once", is_flag=True, help="Catch up once, then exit.")
@pass_settings
def projections_follow(settings: Settings, interval: float, once: bool) -> None:
    """Keep every read model caught up with the log until stopped (Ctrl-C or SIGTERM)."""
    total = 0
    with stop_requested() as stop, settings.open() as ledger:
        while not stop.is_set():
            total += ledger.projections.catch_up(
                on_batch=lambda name, n: click.echo(
                    f"{name}: {n} events applied (position {ledger.projections.position(name)})"
                )
            )
            if once or stop.wait(interval):
                break
    click.echo(f"stopped following: {total} events applied", err=True)
