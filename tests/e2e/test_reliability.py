"""Reliability (issue 6): concurrent writers lose nothing and apply nothing twice; thousands
of malformed inputs each get one clear error and leave the store byte-for-byte as it was;
a database that goes away (PostgreSQL stopped, SQLite read-only or full) gives a clear
"database unavailable" error and a non-zero exit, records nothing half-way, and the ledger
works again once the database is back. The crash test is in tests/integration/test_import_batch.py,
the role matrix in tests/integration/test_roles.py."""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import Ledger
from ledger.cli import cli
from ledger.cli.support import Failure, translated_errors
from ledger.clock import FixedClock
from ledger.commands.application import ConcurrentChange, NotFound
from ledger.commands.importer import import_commands
from ledger.commands.models import CommandError
from ledger.commands.registry import COMMAND_NAMES, QUALITY_COMMAND_NAMES, parse_command
from ledger.domain.errors import DomainError
from ledger.domain.ticket import Dispatched, Reported
from ledger.feed.cloudevents import read_feed
from ledger.integrity.verify import verify_ledger
from ledger.timeutil import parse_time
from tests.e2e.test_cli import NOW, REPORT_ARGS, Cli
from tests.integration.test_import_batch import events, head, read_models
from tests.pg_server import _Cluster, _missing_postgres, find_pg_bindir
from tests.support import REPORT, SHANGHAI, open_desk, run_in_processes

LATER = datetime(2026, 10, 8, 2, 0, tzinfo=UTC)  # an hour after the desk's reports
UNAVAILABLE = "Error: database unavailable or unusable: "
WHO = {"actor": "李娜", "role": "dispatcher"}
CONFLICT = re.compile(r"ticket T-2026-\d{6} changed concurrently, retry")


def store_state(ledger: Ledger) -> tuple[int, tuple[int, bytes]]:
    """Event count and chain head: what a refused input must leave exactly as it was."""
    return ledger.event_count(), head(ledger)


def fast_cli(url: str) -> Cli:
    """``make_cli``'s ledger (initialised, seed contracts), set up in-process: quicker."""
    open_desk(url).ledger.close()
    return Cli(url)


def assert_projections_equal_a_rebuild(ledger: Ledger) -> None:
    ledger.projections.catch_up()
    live = read_models(ledger)
    assert ledger.projections.rebuild() > 0
    assert read_models(ledger) == live


# --------------------------------------------------------------------------- concurrency


def issue_commands(url: str, numbers: list[str], start: float, queue: Any) -> None:
    """In a spawned process: from ``start`` (epoch seconds) for three seconds, dispatch a
    random one of the shared tickets (half the time with retries, half without, so
    conflicts surface) or report a new ticket; every accepted command carries a token
    unique to it. Catches the read models up now and then, as the CLI does."""
    ledger = Ledger.open(url, clock=FixedClock(LATER), tz=SHANGHAI)
    worker = os.getpid()
    rng = random.Random(worker)
    accepted: list[tuple[str, str, str]] = []
    conflicts: list[str] = []
    unexpected: list[str] = []
    step = 0
    time.sleep(max(0.0, start - time.time()))
    until = time.time() + 3.0  # from now: a slow spawn still gets its three seconds
    while time.time() < until:
        step += 1
        token = f"p{worker}-{step}"
        try:
            if rng.random() < 0.2:
                command = parse_command({**REPORT, "device": token}, SHANGHAI)
                ticket = ledger.tickets.execute(command)
                accepted.append(("report", ticket.number, token))
            else:
                number = rng.choice(numbers)
                data = {"command": "dispatch", "ticket": number, "engineer": token}
                command = parse_command({**WHO, **data}, SHANGHAI)
                ledger.tickets.execute(command, retries=3 if step % 2 else 0)
                accepted.append(("dispatch", number, token))
        except ConcurrentChange as e:
            conflicts.append(str(e))
        except Exception as e:  # anything else is a defect: reported to the test
            unexpected.append(f"{type(e).__name__}: {e}")
        if step % 10 == 0:
            ledger.projections.catch_up()
    ledger.close()
    queue.put((accepted, conflicts, unexpected))


def test_concurrent_writers_lose_nothing_and_apply_nothing_twice(db_url: str) -> None:
    desk = open_desk(db_url)
    numbers = [desk.report(device=f"shared {i}").number for i in range(3)]
    start = desk.ledger.event_count()
    start_at = time.time() + 3.0  # time to spawn the processes, so that they start together
    results = run_in_processes(issue_commands, (db_url, numbers, start_at), 4)

    accepted = [a for got, _, _ in results for a in got]
    conflicts = [c for _, got, _ in results for c in got]
    assert [u for _, _, got in results for u in got] == []
    assert all(CONFLICT.fullmatch(c) for c in conflicts), conflicts
    assert len(accepted) > 20, "the workers hardly ran"

    ledger = desk.ledger
    # Every accepted command is recorded exactly once, and nothing else was recorded.
    new_numbers = [number for kind, number, _ in accepted if kind == "report"]
    recorded: Counter[tuple[str, str, str]] = Counter()
    for number in numbers + new_numbers:
        for event in ledger.tickets.history(number):
            if isinstance(event, Dispatched):
                recorded["dispatch", number, event.engineer] += 1
            elif isinstance(event, Reported) and event.device.startswith("p"):
                recorded["report", number, event.device] += 1
    assert recorded == Counter(accepted)
    reports = sum(1 for kind, _, _ in accepted if kind == "report")
    assert ledger.event_count() == start + len(accepted) + reports  # a report: number + ticket

    # Versions gap-free per aggregate, chain positions 1..n, the chain verifies.
    stored = events(ledger)
    assert [position for position, *_ in stored] == list(range(1, len(stored) + 1))
    versions: dict[str, list[int]] = {}
    for _, originator, version, _, _ in stored:
        versions.setdefault(originator, []).append(version)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    assert verify_ledger(ledger.engine, ledger.location.events_table).ok

    # The feed: every position once, in order.
    sequences: list[int] = []
    while batch := read_feed(ledger, after=sequences[-1] if sequences else 0, limit=500):
        sequences += [int(e["sequence"]) for e in batch]
    assert sequences == list(range(1, len(stored) + 1))

    assert_projections_equal_a_rebuild(ledger)
    ledger.close()


# --------------------------------------------------------------------------- database down


@pytest.fixture
def own_cluster() -> Iterator[_Cluster]:
    """A throwaway PostgreSQL cluster of this test's own, to stop and start (never the
    session's shared server). Its port and sockets go into postgresql.conf, so that a plain
    ``pg_ctl start`` brings it back as it was."""
    bindir = find_pg_bindir()
    if bindir is None:
        _missing_postgres()
    cluster = _Cluster(bindir)
    try:
        cluster.start()
        with (cluster.datadir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {cluster.port}\n"
                f"unix_socket_directories = '{cluster.root}'\nfsync = off\n"
            )
        yield cluster
    finally:
        cluster.stop()


def pg_ctl(cluster: _Cluster, action: str) -> None:
    if action == "stop":
        cluster._run("pg_ctl", "stop", "-D", str(cluster.datadir), "-m", "fast", "-w")
    else:
        cluster._run(
            "pg_ctl", "start", "-D", str(cluster.datadir), "-l", str(cluster.logfile), "-w"
        )


@pytest.mark.postgres
def test_postgres_stopped_mid_run_is_a_clear_error_and_the_ledger_works_when_it_is_back(
    own_cluster: _Cluster,
) -> None:
    """Each command is its own process (a long-running one in-process waits out the
    connection pool's timeouts and reconnection back-off: tens of seconds, too slow here)."""
    cli = fast_cli(f"postgresql://postgres@127.0.0.1:{own_cluster.port}/postgres")
    cli.run(*REPORT_ARGS)
    with Ledger.open(cli.db) as ledger:
        before = store_state(ledger)

    pg_ctl(own_cluster, "stop")
    for args in (REPORT_ARGS, ["ticket", "respond", "T-2026-000001"], ["ticket", "list"]):
        down = cli.run(*args, ok=False)
        assert down.returncode == 1, down.stderr
        assert down.stderr.startswith(UNAVAILABLE) and down.stderr.count("\n") == 1, down.stderr
        assert "Connection refused" in down.stderr

    pg_ctl(own_cluster, "start")
    with Ledger.open(cli.db) as ledger:
        assert store_state(ledger) == before  # nothing half-written
    cli.run("ticket", "respond", "T-2026-000001")
    assert cli.json("ticket", "show", "T-2026-000001")["status"] == "responded"
    assert cli.event_count() == before[0] + 1
    cli.run("verify")


def run_ledger(cli: Cli, *args: str, **options: Any) -> subprocess.CompletedProcess[str]:
    """``cli.run`` with ``subprocess.run`` options (a user to run as, resource limits)."""
    argv = [sys.executable, "-m", "ledger", *args]
    result = subprocess.run(
        [*options.pop("prefix", []), *argv],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
        **options,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def assert_refused_clearly(result: subprocess.CompletedProcess[str], why: str) -> None:
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(UNAVAILABLE) and result.stderr.count("\n") == 1, result.stderr
    assert why in result.stderr, result.stderr


def test_a_read_only_sqlite_database_is_a_clear_error(tmp_path: Path) -> None:
    """Root ignores file modes, so as root the command runs without the capabilities
    that let it (setpriv, from util-linux)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    cli = fast_cli(f"sqlite:///{folder / 'ledger.db'}")
    cli.run(*REPORT_ARGS)
    before = cli.event_count()
    prefix: list[str] = []
    if os.geteuid() == 0:
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]
    folder.chmod(0o555)
    (folder / "ledger.db").chmod(0o444)
    try:
        for args in (REPORT_ARGS, ["ticket", "respond", "T-2026-000001"]):
            assert_refused_clearly(run_ledger(cli, *args, prefix=prefix), "readonly")
    finally:
        folder.chmod(0o755)
        (folder / "ledger.db").chmod(0o644)
    assert cli.event_count() == before
    cli.run("ticket", "respond", "T-2026-000001")
    cli.run("verify")


def _no_file_may_grow() -> None:
    """In the child: every write to a regular file fails (EFBIG), as on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


def test_a_full_disk_under_sqlite_is_a_clear_error_and_nothing_is_half_written(
    tmp_path: Path,
) -> None:
    cli = fast_cli(f"sqlite:///{tmp_path / 'ledger.db'}")
    cli.run(*REPORT_ARGS)
    before = cli.event_count()
    for args in (REPORT_ARGS, ["ticket", "respond", "T-2026-000001"]):
        result = run_ledger(cli, *args, preexec_fn=_no_file_may_grow)
        assert_refused_clearly(result, "")
    assert cli.event_count() == before
    cli.run("verify")

    # In a running process: the file may grow a little, then no more; each command is
    # saved whole or not at all. Its clock is the CLI's (recorded time never goes back).
    now = parse_time(NOW, SHANGHAI)
    with Ledger.open(cli.db, clock=FixedClock(now), tz=SHANGHAI) as ledger:
        size = sum(p.stat().st_size for p in tmp_path.glob("ledger.db*"))
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 64 * 1024, hard))
        saved = 0
        try:
            with pytest.raises(Failure) as refused, translated_errors():
                for step in range(10_000):
                    command = parse_command({**REPORT, "device": f"d{step}"}, SHANGHAI)
                    ledger.tickets.execute(command)
                    saved += 1
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, previous)
        assert refused.value.message.startswith("database unavailable or unusable: ")
        assert ledger.event_count() == before + 2 * saved
    cli.run("verify")
    cli.run(*REPORT_ARGS)
    assert cli.event_count() == before + 2 * saved + 2


# --------------------------------------------------------------------------- bad input

SQLISH = ["'; DROP TABLE stored_events; --", '" OR 1=1 --', "T-2026-000001' OR '1'='1"]
FAR_TIMES = ["0001-01-01T00:00", "9999-12-31T23:59:59", "1900-01-01", "2026-13-45T25:61", "-1"]
huge = st.builds(
    lambda c, n: c * n, st.sampled_from(["x", "长", "\x00", "\u202e"]), st.integers(5_000, 100_000)
)
control = st.text(alphabet=st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
words = st.one_of(
    st.text(max_size=30), control, huge, st.sampled_from([*SQLISH, *FAR_TIMES, "T-2026-999999"])
)
nasty = st.one_of(
    words,
    st.integers(),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
FIELDS = [
    "ticket",
    "engineer",
    "summary",
    "signer",
    "reason",
    "severity",
    "at",
    "to",
    "kind",
    "unit",
    "note",
    "mode",
    "category",
    "customer",
    "site",
    "device",
    "description",
    "contact_phone",
]


def malformed_command(commands: tuple[str, ...]) -> st.SearchStrategy[dict[str, Any]]:
    """A command naming an unknown ticket or contract, with nasty fields, often a nasty
    actor, role or command name too."""
    return st.builds(
        lambda base, fields, who, contract, ticket: {
            **base,
            **fields,
            **who,
            "contract": contract,
            "ticket": ticket,
        },
        st.fixed_dictionaries({"command": st.one_of(st.sampled_from(commands), nasty)}),
        st.dictionaries(
            st.one_of(st.sampled_from(FIELDS), st.text(max_size=10)), nasty, max_size=6
        ),
        st.fixed_dictionaries(
            {
                "actor": st.one_of(st.just("李娜"), nasty),
                "role": st.one_of(st.just("dispatcher"), nasty),
            }
        ),
        nasty,
        nasty,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Ledger]:
    """A SQLite ledger with one ticket: the in-process paths are the same on both databases
    (the subprocess cases below run on both)."""
    desk = open_desk(f"sqlite:///{tmp_path / 'ledger.db'}")
    desk.report()
    yield desk.ledger
    desk.ledger.close()


def quick(examples: int) -> settings:
    """No deadline (a first database call is slow); one store for all the examples."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


def test_malformed_commands_are_refused_and_change_nothing(store: Ledger) -> None:
    before = store_state(store)

    @quick(1500)
    @given(malformed_command(COMMAND_NAMES))
    def refused(data: dict[str, Any]) -> None:
        with pytest.raises((CommandError, DomainError, NotFound)) as error:
            store.tickets.execute(parse_command(data, SHANGHAI))
        assert str(error.value).strip()

    refused()
    assert store_state(store) == before


line = st.one_of(
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")),
    st.sampled_from(
        [b"\xff\xfe\x00", b'{"command": "report", "site": "\xc3\x28"}', b"[1, 2]", b"null"]
    ),
    malformed_command((*COMMAND_NAMES, *QUALITY_COMMAND_NAMES)).map(
        lambda d: json.dumps(d, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass")
    ),
)


def test_malformed_import_lines_are_each_rejected_and_change_nothing(
    store: Ledger, tmp_path: Path
) -> None:
    before = store_state(store)
    path = tmp_path / "bad.jsonl"

    @quick(150)
    @given(st.lists(line, min_size=1, max_size=20))
    def rejected(lines: list[bytes]) -> None:
        path.write_bytes(b"\n".join(lines) + b"\n")
        report = import_commands(store.tickets, store.quality, path, tz=SHANGHAI, defaults=WHO)
        assert report.applied == 0 and report.already_applied == 0
        assert all(r.reason.strip() for r in report.rejected)

    rejected()
    assert store_state(store) == before


def invoke(store: Ledger, args: list[str]) -> Any:
    env = {
        "LEDGER_DB": store.location.url,
        "LEDGER_NOW": "2026-10-08T12:00+08:00",
        **{f"LEDGER_{k.upper()}": v for k, v in WHO.items()},
    }
    return CliRunner().invoke(cli, args, env=env, catch_exceptions=False)


def assert_clear_refusal(result: Any) -> None:
    assert "database unavailable" not in result.stderr, result.stderr
    assert result.exit_code in (1, 2), (result.exit_code, result.output)
    lines = result.stderr.strip().splitlines()
    assert any(line.startswith("Error: ") for line in lines), result.stderr
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.stderr


contract_file = st.one_of(
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from(
            [
                "id",
                "name",
                "customer",
                "warranty",
                "timezone",
                "calendar",
                "targets",
                "escalation",
                "x",
            ]
        ),
        st.one_of(
            words,
            st.integers(),
            st.dictionaries(
                st.sampled_from(["respond", "arrive", "default", "start", "years"]),
                words,
                max_size=3,
            ),
        ),
        max_size=7,
    ).map(
        lambda d: "\n".join(
            f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in d.items()
        ).encode("utf-8", "surrogatepass")
    ),
)


def test_malformed_contract_files_are_refused_and_change_nothing(
    store: Ledger, tmp_path: Path
) -> None:
    before = store_state(store)
    path = tmp_path / "contract.toml"

    @quick(150)
    @given(contract_file)
    def refused(content: bytes) -> None:
        path.write_bytes(content)
        assert_clear_refusal(invoke(store, ["contract", "load", str(path)]))

    refused()
    assert store_state(store) == before


TICKET_GROUP = cli.commands["ticket"]
assert isinstance(TICKET_GROUP, click.Group)
WRITES = [name for name in COMMAND_NAMES if name != "report"]
"""The ticket commands that take a ticket; a ticket unknown to the store, so that however
the options turn out nothing can be recorded."""


def options_of(name: str) -> list[str]:
    """Every option ``ledger ticket NAME`` takes (from click), so most arguments get past
    click's own checks to the command's."""
    command = TICKET_GROUP.commands[name.replace("_", "-")]
    return [opt for p in command.params if isinstance(p, click.Option) for opt in p.opts]


cli_arguments = st.sampled_from(WRITES).flatmap(
    lambda name: st.tuples(
        st.just(name),
        st.one_of(words, st.just("T-2026-999999")),
        st.lists(st.tuples(st.sampled_from(options_of(name)), words), max_size=4),
    )
)


def test_malformed_cli_arguments_are_refused_and_change_nothing(store: Ledger) -> None:
    before = store_state(store)

    @quick(250)
    @given(cli_arguments)
    def refused(arguments: tuple[str, str, list[tuple[str, str]]]) -> None:
        name, ticket, options = arguments
        args = [
            "ticket",
            name.replace("_", "-"),
            ticket,
            *(part for pair in options for part in pair),
        ]
        assert_clear_refusal(invoke(store, [a.replace("\x00", "") for a in args]))

    refused()
    assert store_state(store) == before


BAD_ARGUMENTS = [
    ["ticket", "respond", "'; DROP TABLE stored_events; --"],
    ["ticket", "dispatch", "T-2026-000001", "--engineer", "x" * 100_000],
    ["ticket", "respond", "T-2026-000001", "--at", "9999-12-31T23:59"],
    ["ticket", "respond", "T-2026-000001", "--at", "0001-01-01T00:00"],
    ["ticket", "respond", "T-2026\x07\x1b[2J"],
]


def test_bad_input_through_the_real_cli(db_url: str, tmp_path: Path) -> None:
    """A handful of the above through the real command, on both databases."""
    cli = fast_cli(db_url)
    cli.run(*REPORT_ARGS)
    with Ledger.open(db_url) as ledger:
        before = store_state(ledger)
    for args in BAD_ARGUMENTS:
        result = cli.run(*args, ok=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, args

    bad = tmp_path / "bad.jsonl"  # invalid UTF-8 in a field, and a line that is no JSON
    bad.write_bytes(
        b'{"command": "respond", "ticket": "T-2026-000001", "note": "\xff\xfe"}\n\xc3\x28\n'
    )
    result = cli.run("import", str(bad), ok=False)
    assert result.returncode == 2 and "0 applied, 2 rejected" in result.stdout, result.stdout
    reasons = [line for line in result.stderr.splitlines() if line.strip()]  # no progress bar
    assert [line.split(":")[0] for line in reasons] == ["line 1", "line 2"], result.stderr
    with Ledger.open(db_url) as ledger:
        assert store_state(ledger) == before


def test_control_characters_in_text_are_refused_and_record_nothing(sqlite_url: str) -> None:
    """A bell or an escape sequence in a name would travel into reports, terminals and the
    feed: refused with the character named; tab and newline in a summary stay text."""
    desk = open_desk(sqlite_url)
    number = desk.report().number
    before = store_state(desk.ledger)
    for engineer in ("王\x07工", "王工\x1b[2J", "王\x00工", "王\x7f工"):
        with pytest.raises(CommandError, match=r"engineer: contains a control character \(U\+"):
            desk.do("dispatch", ticket=number, engineer=engineer)
    assert store_state(desk.ledger) == before
    desk.do("dispatch", ticket=number, engineer="王工")
    resolved = desk.do(
        "resolve",
        ticket=number,
        summary="远程重启\n测试正常\t OK",
        mode="remote",
        actor="王工",
        role="engineer",
    )
    assert resolved.resolution == "远程重启\n测试正常\t OK"
    desk.ledger.close()
