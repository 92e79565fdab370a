"""The CLI's start-up imports only what the command run needs (issue 18: a cold start under
300 ms, measured by ``make bench``; here the import set is checked, not a timing): a fresh
interpreter runs the CLI, then lists ``sys.modules``."""

from __future__ import annotations

import os
import subprocess
import sys

import click
import pytest

from ledger.cli import COMMANDS, cli
from ledger.cli.lazy import load
from tests.e2e.test_cli import ADMIN, REPORT_ARGS, make_cli

HEAVY = (
    "eventsourcing.postgres",
    "psycopg",
    "psycopg_pool",
    "jinja2",
    "cryptography",
    "fastapi",
    "starlette",
    "uvicorn",
    "httpx",
    "reportlab",
    "openpyxl",
    "pyecharts",
    "boto3",
    "nats",
    "standardwebhooks",
    "aiosmtpd",
)
"""Never imported by a command that does not use them (SQLite, no server, no export)."""

FORBIDDEN_FOR_HELP = (
    *HEAVY,
    "sqlalchemy",
    "pydantic",
    "eventsourcing",
    "rich",
    "ledger.bootstrap",
    "ledger.commands",
    "ledger.domain.ticket",
)
"""``ledger --help`` lists the groups from a table: no database, model or table library."""

RUN_AND_LIST = """
import sys
from ledger.cli import cli
try:
    cli.main(args=sys.argv[1:], prog_name="ledger")
except SystemExit as e:
    assert not e.code, e.code
print("\\nMODULES " + " ".join(sorted(sys.modules)))
"""


def modules_after(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """The modules loaded once ``ledger ARGS`` has run in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.rsplit("\nMODULES ", 1)[1]
    return set(line.split())


def loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        m for m in modules if m in forbidden or m.startswith(tuple(f + "." for f in forbidden))
    )


def test_help_imports_no_library_of_any_command() -> None:
    assert loaded(modules_after("--help"), FORBIDDEN_FOR_HELP) == []


def test_a_groups_help_imports_only_that_group() -> None:
    modules = modules_after("visits", "--help")
    assert "ledger.cli.visits" in modules
    assert loaded(modules, (*HEAVY, "ledger.cli.tickets", "ledger.cli.reports")) == []


FORBIDDEN_FOR_TICKET_SHOW = (
    *HEAVY,
    "sqlalchemy",
    "rich",
    "ledger.bootstrap",
    "ledger.queries",
    "ledger.commands.application",
    "ledger.commands.registry",
    "ledger.commands.models",
    "ledger.commands.contracts",
    "ledger.commands.tickets",
    "ledger.commands.quality",
    "ledger.commands.sweep",
    "ledger.projections",
    "ledger.cli.tickets",
    "ledger.storage.recorders",
    "eventsourcing.application",
    "eventsourcing.sqlite",
)
"""``ledger ticket show T --json`` reads through the database's own driver
(ledger/quick_show.py): no SQL toolkit, no composition root, no service, no command model."""


def test_ticket_show_json_on_sqlite_takes_the_quick_path(sqlite_url: str) -> None:
    c = make_cli(sqlite_url)
    number = c.json(*REPORT_ARGS)["number"]
    modules = modules_after("ticket", "show", number, "--json", env=c.env)
    assert "ledger.quick_show" in modules  # the command did run
    # The ticket's contact is personal information stored encrypted (docs/privacy.md):
    # showing it decrypts it, so AES-GCM (cryptography) is the one heavy library it needs.
    assert "cryptography" in modules
    assert loaded(modules, tuple(m for m in FORBIDDEN_FOR_TICKET_SHOW if m != "cryptography")) == []


def test_ticket_show_json_on_postgres_takes_the_quick_path_over_psycopg(pg_url: str) -> None:
    c = make_cli(pg_url)
    number = c.json(*REPORT_ARGS)["number"]
    modules = modules_after("ticket", "show", number, "--json", env=c.env)
    assert "ledger.quick_show" in modules and "psycopg" in modules
    needed = ("cryptography", "psycopg")  # decrypting the contact; the driver
    assert loaded(modules, tuple(m for m in FORBIDDEN_FOR_TICKET_SHOW if m not in needed)) == []
    assert loaded(modules, ("eventsourcing.postgres", "psycopg_pool")) == []


def test_a_ticket_without_a_readable_personal_field_does_not_load_cryptography(
    sqlite_url: str,
) -> None:
    """Once its contact is erased (docs/privacy.md) the ticket names no key to decrypt with."""
    c = make_cli(sqlite_url)
    number = c.json(*REPORT_ARGS)["number"]
    c.json("privacy", "erase", "--phone", "13800138001", "--reason", "本人要求删除", **ADMIN)
    modules = modules_after("ticket", "show", number, "--json", env=c.env)
    assert "ledger.quick_show" in modules
    assert loaded(modules, FORBIDDEN_FOR_TICKET_SHOW) == []


def test_ticket_show_as_a_table_imports_no_heavy_library(sqlite_url: str) -> None:
    c = make_cli(sqlite_url)
    number = c.json(*REPORT_ARGS)["number"]
    modules = modules_after("ticket", "show", number, env=c.env)
    assert "ledger.bootstrap" in modules  # the full path ran
    assert loaded(modules, tuple(h for h in HEAVY if h != "cryptography")) == []  # decrypting


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_names_each_command_and_its_help_line(name: str) -> None:
    """``ledger --help`` lists the lazy groups from COMMANDS: each entry names the command
    registered under that name, and its line is the command's own first sentence."""
    command = load(COMMANDS[name].target)
    assert command.name == name or (name, command.name) == ("import", "import")
    assert COMMANDS[name].short_help == command.get_short_help_str(10_000)


def test_an_unknown_command_is_still_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ledger", "tickets"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "No such command 'tickets'" in result.stderr


def test_commands_are_loaded_when_looked_up() -> None:
    assert cli.list_commands(click.Context(cli)) == sorted([*COMMANDS, "init"])
    group = cli.commands["visits"]
    assert isinstance(group, click.Group) and "due" in group.commands
