"""``ledger ticket show T --json`` on SQLite takes a quick path (ledger/quick_show.py: the
standard library's driver, no composition root; issue 18); its output must be exactly the
full path's, for every ticket of a real history, and every case it cannot answer exactly
must be left to the full path."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from uuid import UUID

import pytest

from bench.generate import SIZES, write_history
from bench.run import NOW, ledger_cli, set_up
from ledger.cli import cli
from ledger.cli.support import Settings
from ledger.cli.tickets import show_ticket
from ledger.clock import FixedClock, SystemClock
from ledger.quick_show import ticket_show_view
from ledger.storage.location import parse_location
from ledger.timeutil import parse_time, zone

TZ = zone("Asia/Shanghai")
PG = "postgresql://ledger@localhost:5432/ledger"

HOLIDAYS_2026 = """\
year = 2026
source = "TEST DATA: a made-up 2026 notice, October without its golden week"
holidays = [2026-01-01, "2026-02-15..2026-02-23", "2026-05-01..2026-05-05"]
workdays = []
"""
"""Replaces the bundled 2026: the verdicts of October's tickets depend on it."""


@pytest.fixture(scope="module")
def history_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The benchmark's tiny history (the demo's month across the five seed contracts),
    imported with its sweep, and a holiday table of 2026 loaded."""
    work = tmp_path_factory.mktemp("quick-show")
    url = f"sqlite:///{work / 'ledger.db'}"
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


def test_every_ticket_shows_the_same_on_both_paths(history_url: str) -> None:
    tickets = numbers(history_url)
    assert len(tickets) >= 20
    location = parse_location(history_url)
    clock = FixedClock(parse_time(NOW, TZ))
    statuses = set()
    for number in tickets:
        quick = ticket_show_view(location, number, TZ, clock)
        assert quick is not None, number  # the quick path answered
        shown = cli_output(history_url, number)
        assert shown == full_path(history_url, number), number
        assert json.loads(shown) == quick
        statuses |= {j["status"] for j in quick["sla"] or ()}
    assert {"met", "breached"} <= statuses  # verdicts of both kinds were compared


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
    assert ticket_show_view(parse_location(PG), "T-2026-000001", TZ, clock) is None
    missing = parse_location(f"sqlite:///{tmp_path / 'none.db'}")
    assert ticket_show_view(missing, "T-2026-000001", TZ, clock) is None
    assert not (tmp_path / "none.db").exists()


def test_a_fixed_clock_on_a_real_time_ledger_is_refused_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'real.db'}"
    monkeypatch.delenv("LEDGER_NOW", raising=False)
    cli.main(args=["--db", url, "init"], prog_name="ledger", standalone_mode=False)
    location = parse_location(url)
    assert ticket_show_view(location, "T-2026-000001", TZ, FixedClock(parse_time(NOW, TZ))) is None
    assert ticket_show_view(location, "T-2026-000001", TZ, SystemClock()) is None  # no ticket
    with pytest.raises(Exception, match="LEDGER_NOW: refused"):
        ledger_cli(url, "ticket", "show", "T-2026-000001", "--json")
