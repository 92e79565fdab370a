"""``ledger ticket``: the group, and ``ticket show`` with its quick path.

``ticket show T --json`` is answered by :mod:`ledger.quick_show` without opening the
ledger (issue 18: a cold start under 300 ms); every other form, and the other ``ticket``
commands (ledger/cli/tickets.py, imported when one of them runs), go through the ledger."""

from __future__ import annotations

import click

from ledger.bounds import MAX_POSITION
from ledger.cli.lazy import SplitGroup
from ledger.cli.support import Settings, json_option, pass_settings, print_json
from ledger.storage.location import parse_location


@click.group(cls=SplitGroup, rest="ledger.cli.tickets:ticket")
def ticket() -> None:
    """Record and read service tickets (服务单)."""


@ticket.command("show")
@click.argument("ticket")
@click.option(
    "--as-of",
    help="The ticket as the ledger stood then: only the events recorded at or before TIME "
    "(ISO 8601; naive = --tz), SLAs judged at TIME.",
)
@click.option(
    "--at-version",
    type=click.IntRange(min=1, max=MAX_POSITION),
    help="The ticket after its first N events, SLAs judged when event N was recorded.",
)
@json_option
@pass_settings
def show(
    settings: Settings, ticket: str, as_of: str | None, at_version: int | None, as_json: bool
) -> None:
    """Show a ticket's current state, rebuilt from its events, and its SLA verdicts now;
    or replay it: as the ledger stood at --as-of, or after --at-version events."""
    if as_json and as_of is None and at_version is None:
        from ledger.quick_show import ticket_show_view

        view = ticket_show_view(parse_location(settings.url), ticket, settings.tz, settings.clock())
        if view is not None:
            print_json(view)
            return
    from ledger.cli.tickets import show_ticket

    show_ticket(settings, ticket, as_of, at_version, as_json)
