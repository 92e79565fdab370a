"""``ledger ticket show T --json`` takes a quick path (ledger/quick_show.py: the database's
own driver, no composition root; issue 18); its output must be exactly the full path's, for
every ticket of a real history (its contacts stored encrypted, and again after one of them
is erased: docs/privacy.md), on SQLite and PostgreSQL, and every case it cannot answer
exactly must be left to the full path."""

from __future__ import annotations

import io
import json
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from bench.generate import SIZES, write_history
from bench.run import NOW, ledger_cli, set_up
from ledger.cli import cli
from ledger.cli.support import Settings
from ledger.cli.tickets import show_ticket
from ledger.clock import FixedClock, SystemClock
from ledger.domain.privacy import ERASED
from ledger.quick_show import ticket_show_view
from ledger.storage.field_cipher import PII, PII_BYTES
from ledger.storage.location import parse_location
from ledger.timeutil import parse_time, zone
from tests.pg_server import PgServer

TZ = zone("Asia/Shanghai")
PG = "postgresql://ledger@localhost:5432/ledger"

HOLIDAYS_2026 = """\
year = 2026
source = "TEST DATA: a made-up 2026 notice, October without its golden week"
holidays = [2026-01-01, "2026-02-15..2026-02-23", "2026-05-01..2026-05-05"]
workdays = []
"""
"""Replaces the bundled 2026: the verdicts of October's tickets depend on it."""


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def history_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The benchmark's tiny history (the demo's month across the five seed contracts),
    imported with its sweep, and a holiday table of 2026 loaded, on each database."""
    work = tmp_path_factory.mktemp("quick-show")
    if request.param == "sqlite":
        url = f"sqlite:///{work / 'ledger.db'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.create_database()
        request.addfinalizer(lambda: server.drop_database(url))
    set_up(url)
    history = work / "history.jsonl"
    with history.open("wb") as out:
        write_history(out, SIZES["tiny"])
    ledger_cli(url, "import", str(history))
    ledger_cli(url, "sweep")
    table = work / "2026.toml"
    table.write_text(HOLIDAYS_2026, encoding="utf-8")
    ledger_cli(url, "calendar", "load", "--actor", "系统管理员", "--role", "admin", str(table))
    return url


def copy_store(url: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Another database holding what ``url``'s holds."""
    if parse_location(url).kind == "sqlite":
        copy = tmp_path / "ledger.db"
        with sqlite3.connect(db_path(url)) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        return f"sqlite:///{copy}"
    server: PgServer = request.getfixturevalue("pg_server")
    source = parse_location(url).dbname
    target = f"{source}_copy_{tmp_path.name}"[:63]
    with psycopg.connect(server.admin_url, autocommit=True) as admin:
        # a template must have no other session: the CLI calls' pools may still hold one
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (source,),
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(target), sql.Identifier(source)
            )
        )
    copy = server.url_for(target)
    request.addfinalizer(lambda: server.drop_database(copy))
    return copy


@pytest.fixture(scope="module")
def erased_url(
    history_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A copy of that history after the first ticket's contact was erased (its key
    destroyed: the contact reads as erased wherever it is named)."""
    url = copy_store(history_url, request, tmp_path_factory.mktemp("quick-show-erased"))
    first = json.loads(cli_output(url, numbers(url)[0]))
    ledger_cli(
        url, "privacy", "erase", "--phone", first["contact"]["phone"], "--reason",
        "本人要求删除", "--actor", "系统管理员", "--role", "admin",
    )  # fmt: skip
    return url


def db_path(url: str) -> Path:
    path = parse_location(url).path
    assert path is not None
    return path


def sealed_events(url: str) -> int:
    """How many stored events hold an encrypted personal field."""
    location = parse_location(url)
    if location.kind == "postgresql":
        with psycopg.connect(url) as pg:
            row = pg.execute(
                f"SELECT count(*) FROM {location.events_table} WHERE position(%s IN state) > 0",
                (PII_BYTES,),
            ).fetchone()
    else:
        with sqlite3.connect(db_path(url)) as conn:
            row = conn.execute(
                f"SELECT count(*) FROM {location.events_table} WHERE instr(state, ?) > 0",
                (PII_BYTES,),
            ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """The full path reads "now" from ``LEDGER_NOW``, as the CLI calls do."""
    monkeypatch.setenv("LEDGER_NOW", NOW)


def full_path(url: str, ref: str, tz_name: str | None = None) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        show_ticket(Settings(url, tz_name), ref, None, None, True)
    return out.getvalue()


def cli_output(url: str, ref: str) -> str:
    return ledger_cli(url, "ticket", "show", ref, "--json")


def numbers(url: str) -> list[str]:
    rows = json.loads(ledger_cli(url, "ticket", "list", "--all", "--json"))
    return sorted(row["number"] for row in rows)


@pytest.mark.parametrize("erased", [False, True], ids=["as-recorded", "one-erased"])
def test_every_ticket_shows_the_same_on_both_paths(
    history_url: str, erased: bool, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue("erased_url") if erased else history_url
    tickets = numbers(url)
    assert len(tickets) >= 20
    assert sealed_events(url) >= len(tickets)  # every report's contact is stored encrypted
    location = parse_location(url)
    clock = FixedClock(parse_time(NOW, TZ))
    statuses = set()
    contacts = []
    for number in tickets:
        quick = ticket_show_view(location, number, TZ, clock)
        assert quick is not None, number  # the quick path answered
        shown = cli_output(url, number)
        assert shown == full_path(url, number), number
        assert json.loads(shown) == quick
        assert PII not in shown
        statuses |= {j["status"] for j in quick["sla"] or ()}
        contacts.append(quick["contact"])
    assert {"met", "breached"} <= statuses  # verdicts of both kinds were compared
    shredded = [c for c in contacts if c["phone"] == ERASED]
    assert all(c["name"] == ERASED for c in shredded)
    assert len(shredded) < len(contacts)  # the others decrypted
    assert all(c["phone"][-4:].isdigit() for c in contacts if c not in shredded)
    assert bool(shredded) == erased


def test_a_missing_key_store_is_reported_as_the_full_path_reports_it(
    history_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """A log whose key store was lost is never read as erased (docs/privacy.md): the quick
    path leaves it to the full path, which says to restore the backup."""
    url = copy_store(history_url, request, tmp_path)
    if parse_location(url).kind == "postgresql":
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("DROP TABLE privacy_keys")
    else:
        with sqlite3.connect(db_path(url)) as conn:
            conn.execute("DROP TABLE privacy_keys")
    number = numbers(history_url)[0]
    assert (
        ticket_show_view(parse_location(url), number, TZ, FixedClock(parse_time(NOW, TZ))) is None
    )
    with pytest.raises(Exception, match=r"privacy key store .* is missing"):
        cli_output(url, number)


def test_a_ticket_by_its_id_and_in_another_zone(history_url: str) -> None:
    number = numbers(history_url)[0]
    ticket_id = json.loads(cli_output(history_url, number))["id"]
    utc = ledger_cli(history_url, "--tz", "UTC", "ticket", "show", f" {ticket_id} ", "--json")
    assert utc == full_path(history_url, ticket_id, "UTC")
    assert '"reported_at": "' in utc and '+00:00"' in utc


def test_what_the_quick_path_cannot_answer_is_left_to_the_full_path(
    history_url: str, tmp_path: Path
) -> None:
    location = parse_location(history_url)
    clock = FixedClock(parse_time(NOW, TZ))
    unknown_refs = ("T-2026-999999", "T-20x", "not-a-ticket", str(UUID(int=0)))
    for unknown in unknown_refs:
        assert ticket_show_view(location, unknown, TZ, clock) is None
    unreachable = parse_location(PG)  # no server there, or not this user's
    assert ticket_show_view(unreachable, "T-2026-000001", TZ, clock) is None
    missing = parse_location(f"sqlite:///{tmp_path / 'none.db'}")
    assert ticket_show_view(missing, "T-2026-000001", TZ, clock) is None
    assert not (tmp_path / "none.db").exists()


def test_a_fixed_clock_on_a_real_time_ledger_is_refused_as_before(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = db_url
    monkeypatch.delenv("LEDGER_NOW", raising=False)
    cli.main(args=["--db", url, "init"], prog_name="ledger", standalone_mode=False)
    location = parse_location(url)
    assert ticket_show_view(location, "T-2026-000001", TZ, FixedClock(parse_time(NOW, TZ))) is None
    assert ticket_show_view(location, "T-2026-000001", TZ, SystemClock()) is None  # no ticket
    with pytest.raises(Exception, match="LEDGER_NOW: refused"):
        ledger_cli(url, "ticket", "show", "T-2026-000001", "--json")
