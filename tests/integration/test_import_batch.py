"""``ledger import`` in batches, resumable (docs/cli.md#ledger-import-file): a batch records
exactly what one command at a time records; a bad line rejects only itself; ``--strict``;
refs across batches; a re-run applies nothing twice; a key is saved atomically with its
events; a concurrent writer makes a batch plan again; two imports of one file at once
apply each line once; a process killed at random points resumes to exactly one clean run."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import select, text

from ledger.bootstrap import Ledger
from ledger.clock import FixedClock
from ledger.commands.application import NotFound
from ledger.commands.import_lines import parse_line
from ledger.commands.importer import ImportReport, import_commands
from ledger.commands.quality_models import QualityCommandBase
from ledger.commands.staging import Staged
from ledger.domain.errors import DomainError
from ledger.integrity.verify import verify_ledger
from ledger.storage.append_only import MESSAGE
from ledger.storage.chain import COMMANDS_TABLE, CommandKey
from ledger.storage.reads import chain_head, iter_chain, read_chain
from ledger.storage.tables import projection_positions
from tests.e2e.test_cli import Cli, make_cli
from tests.support import SHANGHAI, Desk, open_desk, run_in_processes

NOW = datetime(2026, 10, 8, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, the CLI helper's LEDGER_NOW
DEFAULTS = {"actor": "李娜", "role": "dispatcher"}
Line = dict[str, Any] | bytes


# --------------------------------------------------------------------------- files


def lifecycle(i: int) -> list[dict[str, Any]]:
    """One ticket, reported (ref ``t<i>``) to closed: 7 lines, 8 events."""
    reported = datetime(2026, 10, 8, 0, 0) + timedelta(minutes=2 * i)

    def at(minutes: int) -> str:
        return (reported + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M")

    ref = f"t{i}"
    return [
        {
            "command": "report",
            "ref": ref,
            "contract": "seed-003",
            "contact_name": "王芳",
            "contact_phone": "0374-6099651",
            "site": f"档案室 {i}",
            "device": "高速扫描仪",
            "description": "扫描仪卡纸",
            "at": at(0),
        },
        {"command": "respond", "ticket": ref, "at": at(3)},
        {"command": "dispatch", "ticket": ref, "engineer": "王工", "at": at(5)},
        {"command": "arrive", "ticket": ref, "at": at(30)},
        {"command": "resolve", "ticket": ref, "summary": "清理进纸通道", "at": at(60)},
        {"command": "sign", "ticket": ref, "signer": "张三", "at": at(61)},
        {"command": "close", "ticket": ref, "at": at(62)},
    ]


LIFECYCLE_EVENTS = 8  # the report records the number and the ticket


def tickets_file(count: int) -> list[Line]:
    """``count`` ticket lifecycles, interleaved two by two (so refs reach back)."""
    lines: list[Line] = []
    for first in range(0, count, 2):
        pair = [lifecycle(i) for i in range(first, min(first + 2, count))]
        for step in range(7):
            lines += [ticket[step] for ticket in pair]
    return lines


def mixed_file() -> list[Line]:
    """Tickets, return visits, a corrective action, a complaint, and bad lines."""
    lines = tickets_file(6)
    lines += [
        {"command": "visit_schedule", "ref": "v", "ticket": "t1", "visitor": "周质检"},
        {"command": "visit_conduct", "visit": "v", "content": "电话回访"},
        {
            "command": "complaint_receive",
            "ref": "c",
            "about": "ticket",
            "reference": "t2",
            "category": "quality",
            "content": "响应慢",
        },
        {
            "command": "action_raise",
            "ref": "a",
            "content": "加强巡检",
            "source": "complaint",
            "department": "技术部",
            "links": ["c", "v"],
            "role": "quality",
        },
        {"command": "action_analyse", "action": "a", "cause": "备件不足", "role": "quality"},
        b"{not json",
        {"command": "arrive", "ticket": "t3"},  # closed: a rule refuses it
        {**lifecycle(90)[0], "contract": "nosuch"},  # rejected: its ref t90 too
        {"command": "respond", "ticket": "t90"},
        lifecycle(91)[0],  # the number after the rejected report is not skipped
        {"command": "visit_score", "visit": "v", "engineering_quality": 101},
    ]
    return lines


def write_lines(path: Path, lines: list[Line]) -> Path:
    with path.open("wb") as f:
        for line in lines:
            raw = line if isinstance(line, bytes) else json.dumps(line, ensure_ascii=False).encode()
            f.write(raw + b"\n")
    return path


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def another_url(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Another fresh database of the same kind as ``db_url``."""
    made = iter(range(1, 100))

    def make() -> str:
        if db_url.startswith("sqlite"):
            return f"sqlite:///{tmp_path / f'other-{next(made)}.db'}"
        return str(request.getfixturevalue("make_pg_url")())

    return make


@pytest.fixture
def cli(db_url: str) -> Cli:
    return make_cli(db_url)


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    desk = open_desk(db_url, at=NOW)
    yield desk
    desk.ledger.close()


def run_import(ledger: Ledger, path: Path, **options: Any) -> ImportReport:
    return import_commands(
        ledger.tickets, ledger.quality, path, tz=SHANGHAI, defaults=DEFAULTS, **options
    )


def one_command_at_a_time(ledger: Ledger, path: Path) -> dict[str, str]:
    """The reference: each line through the services' ``execute``, as ``ledger ticket ...``
    does, refs replaced by the numbers made; the refs."""
    refs: dict[str, str] = {}
    for raw in path.read_bytes().splitlines():
        try:
            data = {**DEFAULTS, **json.loads(raw)}
            ref = data.pop("ref", None)
            for key in ("ticket", "visit", "action", "complaint", "reference"):
                if key in data:
                    data[key] = refs.get(data[key], data[key])
            if "links" in data:
                data["links"] = [refs.get(link, link) for link in data["links"]]
            command = parse_line(data, SHANGHAI)
            if isinstance(command, QualityCommandBase):
                number = ledger.quality.execute(command, retries=1).record.number
            else:
                number = ledger.tickets.execute(command, retries=1).number
        except (ValueError, DomainError, NotFound):
            continue
        if ref is not None:
            refs[ref] = number
    return refs


def events(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every event in chain order, as stored (times included: the clock is fixed)."""
    return [
        (c.position, str(c.originator_id), c.originator_version, c.topic, c.state)
        for c in iter_chain(ledger.engine, ledger.location.events_table)
    ]


def head(ledger: Ledger) -> tuple[int, bytes]:
    with ledger.engine.connect() as conn:
        return chain_head(conn)


def read_models(ledger: Ledger) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read model, and the positions."""
    tables = [t for p in ledger.projections.projections.values() for t in p.tables]
    with ledger.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(
                    select(table).order_by(*(list(table.primary_key.columns) or table.columns))
                )
            ]
            for table in [*tables, projection_positions]
        }


def command_rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    with ledger.engine.connect() as conn:
        query = f"SELECT command_id, position, record FROM {COMMANDS_TABLE} ORDER BY position"
        return [tuple(row) for row in conn.execute(text(query))]


# --------------------------------------------------------------------------- batches


def test_batches_record_exactly_what_one_command_at_a_time_records(
    db_url: str, another_url: Callable[[], str], tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "mixed.jsonl", mixed_file())
    reference = open_desk(another_url(), at=NOW).ledger
    refs = one_command_at_a_time(reference, path)
    expected = events(reference)
    assert refs["t91"] == "T-2026-000007" and refs["a"] == "CA-2026-0001"
    reference.close()

    for url, batch_size in ((db_url, 500), (another_url(), 3), (another_url(), 1)):
        ledger = open_desk(url, at=NOW).ledger
        report = run_import(ledger, path, batch_size=batch_size)
        assert [r.line for r in report.rejected] == [48, 49, 50, 51, 53], report.rejected
        assert report.applied == len(mixed_file()) - 5
        assert report.refs == refs
        assert events(ledger) == expected, f"batch size {batch_size}"
        # One key per applied line, pointing at its first event.
        keys = command_rows(ledger)
        assert len(keys) == report.applied
        assert len({position for _, position, _ in keys}) == report.applied
        ledger.close()


def test_a_bad_line_in_the_middle_of_a_batch_rejects_only_itself(
    desk: Desk, tmp_path: Path
) -> None:
    lines = tickets_file(4)
    lines.insert(2, {"command": "close", "ticket": "t0"})  # line 3: not resolved yet
    path = write_lines(tmp_path / "one-bad.jsonl", lines)
    before = desk.ledger.event_count()
    report = run_import(desk.ledger, path)
    assert [r.line for r in report.rejected] == [3]
    assert "T-2026-000001" in report.rejected[0].reason
    assert (report.applied, report.already_applied, report.stopped) == (28, 0, False)
    assert desk.ledger.event_count() == before + 4 * LIFECYCLE_EVENTS
    assert desk.ledger.tickets.get("T-2026-000001").status.value == "closed"


@pytest.mark.parametrize("batch_size", [500, 4])
def test_strict_applies_every_line_before_the_bad_one_and_none_after(
    desk: Desk, tmp_path: Path, batch_size: int
) -> None:
    lines = tickets_file(2)
    lines.insert(9, {"command": "arrive", "ticket": "nosuch"})  # line 10
    path = write_lines(tmp_path / "strict.jsonl", lines)
    before = desk.ledger.event_count()
    report = run_import(desk.ledger, path, strict=True, batch_size=batch_size)
    assert report.stopped and [r.line for r in report.rejected] == [10]
    assert report.applied == 9
    # Lines 1-9: two reports (2 events each), then respond, respond, dispatch x2, arrive.
    assert desk.ledger.event_count() == before + 9 + 2
    assert [type(e).__name__ for e in desk.ledger.tickets.history("T-2026-000002")] == [
        "Reported",
        "Responded",
        "Dispatched",
        "Arrived",
    ]


def test_refs_reach_across_batches(desk: Desk, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "refs.jsonl", tickets_file(6))
    report = run_import(desk.ledger, path, batch_size=2)
    assert not report.rejected and report.applied == 42
    assert report.as_dict()["tickets"] == {f"t{i}": f"T-2026-00000{i + 1}" for i in range(6)}
    for i in range(6):
        assert desk.ledger.tickets.get(f"T-2026-00000{i + 1}").status.value == "closed"


# --------------------------------------------------------------------------- idempotency


def test_running_a_file_again_applies_nothing_twice(desk: Desk, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "mixed.jsonl", mixed_file())
    first = run_import(desk.ledger, path, batch_size=7)
    count, last = desk.ledger.event_count(), head(desk.ledger)
    again = run_import(desk.ledger, path, batch_size=5)
    assert (again.applied, again.already_applied) == (0, first.applied)
    assert again.refs == first.refs  # restored from the recorded keys
    assert [r.line for r in again.rejected] == [r.line for r in first.rejected]
    assert desk.ledger.event_count() == count
    assert head(desk.ledger) == last


def test_a_fixed_line_is_applied_alone_when_the_file_runs_again(desk: Desk, tmp_path: Path) -> None:
    """An edited file keeps the keys of the lines it did not change."""
    lines = tickets_file(2)
    bad = {**lifecycle(1)[0], "severity": "catastrophic"}
    lines[1] = bad  # t1's report
    path = write_lines(tmp_path / "fix.jsonl", lines)
    first = run_import(desk.ledger, path)
    assert first.applied == 7 and len(first.rejected) == 7  # t1's report and its six lines
    lines[1] = lifecycle(1)[0]
    write_lines(path, lines)
    count = desk.ledger.event_count()
    second = run_import(desk.ledger, path)
    assert (second.applied, second.already_applied, second.rejected) == (7, 7, [])
    assert desk.ledger.event_count() == count + LIFECYCLE_EVENTS
    assert second.refs == {"t0": "T-2026-000001", "t1": "T-2026-000002"}


def test_identical_lines_are_separate_commands_and_command_id_is_the_key(
    desk: Desk, tmp_path: Path
) -> None:
    report_line = {k: v for k, v in lifecycle(0)[0].items() if k != "ref"}
    lines: list[Line] = [
        report_line,
        report_line,  # a second, identical report: a second ticket
        {**report_line, "command_id": "crm-1"},
        {**report_line, "command_id": "crm-1", "site": "changed"},  # same id: applied once
        {**report_line, "command_id": ["not", "a", "string"]},
        {**report_line, "command_id": "bad\u0000id"},
    ]
    path = write_lines(tmp_path / "same.jsonl", lines)
    report = run_import(desk.ledger, path)
    assert (report.applied, report.already_applied) == (3, 1)
    assert [r.line for r in report.rejected] == [5, 6]
    assert "command_id: must be a string" in report.rejected[0].reason
    assert desk.ledger.tickets.get("T-2026-000003").site == "档案室 0"
    with pytest.raises(NotFound):
        desk.ledger.tickets.get("T-2026-000004")
    rows = {
        command_id: (position, record) for command_id, position, record in command_rows(desk.ledger)
    }
    position, record = rows["id:crm-1"]
    assert record == "T-2026-000003"
    with desk.ledger.engine.connect() as conn:
        (first,) = read_chain(conn, desk.ledger.location.events_table, after=position - 1, limit=1)
    assert first.topic is not None and first.topic.endswith("TicketNumberIssued")
    again = run_import(desk.ledger, path)
    assert (again.applied, again.already_applied) == (0, 4)


def test_a_key_is_saved_with_its_events_or_not_at_all(desk: Desk) -> None:
    """The recorders write the keys in the events' transaction: a key recorded already
    fails the whole save, events and chain included."""
    ledger = desk.ledger

    def report_events(device: str) -> list[Any]:
        data = {**DEFAULTS, **{k: v for k, v in lifecycle(0)[0].items() if k != "ref"}}
        return ledger.tickets.plan(parse_line({**data, "device": device}, SHANGHAI))

    ledger.app.save(*report_events("甲"), commands=[CommandKey("id:k", 1, "T-2026-000001")])
    count, last = ledger.event_count(), head(ledger)
    (row,) = command_rows(ledger)
    assert row == ("id:k", last[0], "T-2026-000001")  # the second event's position
    with pytest.raises(IntegrityError):
        ledger.app.save(*report_events("乙"), commands=[CommandKey("id:k", 0, "T-2026-000002")])
    assert (ledger.event_count(), head(ledger)) == (count, last)
    assert command_rows(ledger) == [row]
    with pytest.raises(NotFound):
        ledger.tickets.get("T-2026-000002")


def test_the_keys_are_append_only_and_init_upgrades_an_older_ledger(
    db_url: str, tmp_path: Path
) -> None:
    cli = make_cli(db_url)
    path = write_lines(tmp_path / "one.jsonl", lifecycle(0))
    cli.run("import", str(path))
    with Ledger.open(db_url) as ledger:
        for statement in (
            f"UPDATE {COMMANDS_TABLE} SET record = 'T-2026-999999'",
            f"DELETE FROM {COMMANDS_TABLE}",
        ):
            with pytest.raises(Exception, match=MESSAGE), ledger.engine.begin() as conn:
                conn.execute(text(statement))
        assert len(command_rows(ledger)) == 7
        # A ledger from before the keys: no table.
        with ledger.engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {COMMANDS_TABLE}"))
    count = cli.event_count()
    refused = cli.run("import", str(path), ok=False)
    assert refused.returncode == 2
    assert "run `ledger init` once more to upgrade it" in refused.stderr
    assert cli.event_count() == count
    cli.run("init")
    other = write_lines(tmp_path / "other.jsonl", lifecycle(1))
    assert cli.json("import", str(other))["applied"] == 7
    with Ledger.open(db_url) as ledger:
        assert [record for _, _, record in command_rows(ledger)] == ["T-2026-000002"] * 7
        with pytest.raises(Exception, match=MESSAGE), ledger.engine.begin() as conn:
            conn.execute(text(f"DELETE FROM {COMMANDS_TABLE}"))


def test_the_cli_reports_lines_already_applied(cli: Cli, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "two.jsonl", tickets_file(2))
    assert "14 applied, 0 rejected" in cli.run("import", str(path), "--batch-size", "3").stdout
    report = cli.json("import", str(path))
    assert (report["applied"], report["already_applied"], report["rejected"]) == (0, 14, [])
    assert "0 applied, 14 already applied, 0 rejected" in cli.run("import", str(path)).stdout
    assert cli.run("import", str(path), "--batch-size", "0", ok=False).returncode == 2
    # The import caught the read models up.
    status = cli.json("projections", "status")
    assert {row["name"]: row["position"] for row in status}["tickets"] == status[0]["head"]


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("rival_writes", [1, 2])
def test_a_batch_that_meets_a_concurrent_writer_is_planned_again(
    desk: Desk, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rival_writes: int
) -> None:
    """Another process takes the next ticket number just before each of the first
    ``rival_writes`` saves: the batch is planned again (then, after a second conflict, its
    lines go one per transaction); no line is lost or applied twice."""
    rival = open_desk(db_url, create=False, at=NOW)
    write = Staged.write
    saves = 0

    def rival_first(staged: Staged) -> None:
        nonlocal saves
        saves += 1
        if saves <= rival_writes:
            rival.report(device=f"对手 {saves}")
        write(staged)

    monkeypatch.setattr(Staged, "write", rival_first)
    path = write_lines(tmp_path / "race.jsonl", tickets_file(3))
    before = desk.ledger.event_count()
    report = run_import(desk.ledger, path)
    rival.ledger.close()
    assert (report.applied, report.rejected) == (21, [])
    # Once planned again; or twice, then the 21 lines one at a time.
    assert saves == {1: 2, 2: 2 + 21}[rival_writes]
    assert desk.ledger.event_count() == before + 2 * rival_writes + 3 * LIFECYCLE_EVENTS
    numbers = [f"T-2026-{n:06d}" for n in range(1, 4 + rival_writes)]
    assert report.refs == {f"t{i}": numbers[rival_writes + i] for i in range(3)}
    for n in numbers[:rival_writes]:
        assert desk.ledger.tickets.get(n).device.startswith("对手")
    assert len(command_rows(desk.ledger)) == 21
    assert verify_ledger(desk.ledger.engine, desk.ledger.location.events_table).ok


def test_a_line_that_keeps_meeting_concurrent_changes_is_rejected(
    desk: Desk, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = desk.report()
    rival = open_desk(db_url, create=False, at=NOW)
    write = Staged.write
    engineers = iter(f"工程师{n}" for n in range(100))

    def rival_first(staged: Staged) -> None:
        rival.do("dispatch", ticket=ticket.number, engineer=next(engineers))
        write(staged)

    monkeypatch.setattr(Staged, "write", rival_first)
    line = {"command": "dispatch", "ticket": ticket.number, "engineer": "王工"}
    path = write_lines(tmp_path / "contended.jsonl", [line])
    before = desk.ledger.event_count()
    report = run_import(desk.ledger, path)
    rival.ledger.close()
    assert report.applied == 0
    assert [(r.line, r.reason) for r in report.rejected] == [
        (1, "T-2026-000001 changed concurrently, retry")
    ]
    # Two batch attempts and two attempts of the line alone, each after a rival dispatch.
    assert desk.ledger.event_count() == before + 4
    assert command_rows(desk.ledger) == []


# --------------------------------------------------------------------------- crash


def kill_when(cli: Cli, path: Path, events_at_least: int, linger: float) -> None:
    """Start an import, SIGKILL it once the store holds ``events_at_least`` events (plus
    ``linger`` seconds, to land inside a batch's transaction as often as between two)."""
    command = [sys.executable, "-m", "ledger", "import", str(path), "--batch-size", "20"]
    process = subprocess.Popen(
        command, env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with Ledger.open(cli.db) as ledger:
            deadline = time.monotonic() + 60
            while process.poll() is None and time.monotonic() < deadline:
                if ledger.event_count() >= events_at_least:
                    time.sleep(linger)
                    break
                time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the import finished before it was killed"


def test_an_import_killed_at_random_points_resumes_to_exactly_one_clean_run(
    db_url: str, another_url: Callable[[], str], tmp_path: Path
) -> None:
    lines = tickets_file(200)
    bad = {101: b"{broken", 702: {"command": "arrive", "ticket": "t0"}}
    for number, line in sorted(bad.items()):
        lines.insert(number - 1, line)
    path = write_lines(tmp_path / "big.jsonl", lines)
    expected_events = 200 * LIFECYCLE_EVENTS

    clean = make_cli(another_url())
    clean.run("import", str(path), "--batch-size", "50", ok=False)
    cli = make_cli(db_url)
    start = cli.event_count()
    assert clean.event_count() == start + expected_events

    rng = random.Random(20261008)
    for _ in range(3):  # each time a little further, at a random point
        # a kill lands after the batch that crossed the mark (20 lines, up to 160 events)
        # and the linger (a batch or two more): never so late that the import could finish
        if start + expected_events - cli.event_count() <= 300 + 3 * 160:
            break
        kill_when(cli, path, cli.event_count() + rng.randint(1, 300), linger=rng.uniform(0, 0.05))
    killed_at = cli.event_count()
    assert start < killed_at < start + expected_events

    final = json.loads(
        cli.run("import", str(path), "--batch-size", "50", "--json", ok=False).stdout
    )
    assert [r["line"] for r in final["rejected"]] == sorted(bad)
    assert final["already_applied"] > 0
    assert final["applied"] + final["already_applied"] == len(lines) - len(bad)
    assert cli.event_count() == start + expected_events

    with Ledger.open(cli.db) as ledger, Ledger.open(clean.db) as reference:
        assert events(ledger) == events(reference)  # times too: LEDGER_NOW is fixed
        assert head(ledger) == head(reference)
        assert verify_ledger(ledger.engine, ledger.location.events_table).ok
        live = read_models(ledger)
        assert ledger.projections.rebuild() > 0
        assert read_models(ledger) == live


def import_at(url: str, path: str, start_at: float, queue: Any) -> None:
    """In a spawned process: import ``path`` from ``start_at`` (epoch seconds) on."""
    ledger = Ledger.open(url, clock=FixedClock(NOW), tz=SHANGHAI)
    time.sleep(max(0.0, start_at - time.time()))
    report = run_import(ledger, Path(path), batch_size=20)
    queue.put((report.applied, report.already_applied, report.rejected, report.refs))
    ledger.close()


def test_two_processes_importing_one_file_at_once_apply_each_line_once(
    desk: Desk, db_url: str, tmp_path: Path
) -> None:
    path = write_lines(tmp_path / "twice.jsonl", tickets_file(100))
    before = desk.ledger.event_count()
    results = run_in_processes(import_at, (db_url, str(path), time.time() + 4), 2)
    counts = [(applied, already, rejected) for applied, already, rejected, _ in results]
    assert sum(applied for applied, _, _, _ in results) == 700, counts
    assert all(applied + already == 700 for applied, already, _, _ in results), counts
    assert [rejected for _, _, rejected, _ in results] == [[], []]
    assert results[0][3] == results[1][3]  # the same refs
    assert desk.ledger.event_count() == before + 100 * LIFECYCLE_EVENTS
    assert len(command_rows(desk.ledger)) == 700
    assert verify_ledger(desk.ledger.engine, desk.ledger.location.events_table).ok
