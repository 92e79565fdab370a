"""``ledger digest`` and ``ledger verify`` (docs/integrity.md): a clean ledger verifies; an
attacker who drops the append-only triggers and edits, deletes, truncates, reorders or
rehashes the log is caught at the first position they touched; forged digests are refused."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from ledger.cli import cli as ledger_cli
from ledger.integrity import LinkCheck, load_digest, verify_aggregate
from ledger.integrity.findings import REWRITTEN
from ledger.storage.append_only import CHAIN
from ledger.storage.chain import CHAIN_TABLE
from ledger.storage.hashing import canonical_bytes, link
from ledger.storage.reads import chain_head, iter_chain
from ledger.timeutil import parse_time
from tests.e2e.test_cli import REPORT_ARGS, Cli
from tests.integration.test_append_only import Roles, drop_guard, roles  # noqa: F401 (roles: a fixture)
from tests.support import SHANGHAI, Desk, open_desk

NOW = "2026-10-08T09:30"  # Shanghai: 01:30 UTC


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    """Three tickets whose events interleave: all reported, then all responded, then all
    dispatched — so one ticket's events are spread over the log."""
    desk = open_desk(db_url)
    numbers = [desk.report(device=d).number for d in ("门禁控制器", "摄像机", "硬盘录像机")]
    for command, fields in (("respond", {}), ("dispatch", {"engineer": "王工"})):
        for number in numbers:
            desk.later(1)
            desk.do(command, ticket=number, **fields)
    yield desk
    desk.ledger.close()


def invoke(url: str, *args: str, code: int = 0) -> Result:
    """The real ``ledger`` command, in process, on the database at ``url``."""
    env = {"LEDGER_DB": url, "LEDGER_NOW": NOW, "LEDGER_DIGEST_KEY": ""}
    result = CliRunner().invoke(ledger_cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def run(desk: Desk, *args: str, code: int = 0) -> Result:
    return invoke(desk.ledger.location.url, *args, code=code)


def verdict(desk: Desk, *args: str, code: int = 1) -> dict[str, Any]:
    result = run(desk, "verify", "--json", *args, code=code)
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["ok"] is (code == 0)
    return data


def first_problem(data: dict[str, Any]) -> dict[str, Any]:
    problem: dict[str, Any] = data["problems"][0]
    return problem


def sql(desk: Desk, statement: str, **params: Any) -> list[Any]:
    """Run raw SQL in its own transaction, as an attacker at a database prompt would;
    the rows it returns, if any."""
    with desk.ledger.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def one(desk: Desk, statement: str, **params: Any) -> Any:
    [row] = sql(desk, statement, **params)
    return row


def unguard(desk: Desk) -> None:
    """What an attacker with the owner's rights does first: drop the triggers on the
    events (``drop_guard``) and on the chain."""
    drop_guard(desk)  # on PostgreSQL the shared function goes, with every trigger
    if desk.ledger.location.kind == "sqlite":
        for name in CHAIN.sqlite_triggers:
            sql(desk, f"DROP TRIGGER {name}")


def id_column(desk: Desk) -> str:
    return "rowid" if desk.ledger.location.kind == "sqlite" else "notification_id"


def events(desk: Desk) -> str:
    return desk.ledger.location.events_table


def positions_of(desk: Desk, number: str) -> list[tuple[int, int]]:
    """(position, notification id) of every event of a ticket, in version order."""
    ticket_id = desk.ledger.tickets.resolve_id(number)
    return [(c.position, c.notification_id) for c in aggregate(desk, ticket_id)]


def aggregate(desk: Desk, originator_id: UUID) -> list[LinkCheck]:
    return verify_aggregate(desk.ledger.engine, events(desk), originator_id)


def head(desk: Desk) -> tuple[int, bytes]:
    with desk.ledger.engine.connect() as conn:
        return chain_head(conn)


def notification_at(desk: Desk, position: int) -> int:
    return int(
        one(desk, f"SELECT notification_id FROM {CHAIN_TABLE} WHERE position = :p", p=position)[0]
    )


def delete_events(desk: Desk, notification_ids: list[int], *, links: bool) -> None:
    for n in notification_ids:
        sql(desk, f"DELETE FROM {events(desk)} WHERE {id_column(desk)} = :n", n=n)
        if links:
            sql(desk, f"DELETE FROM {CHAIN_TABLE} WHERE notification_id = :n", n=n)


def take(desk: Desk, path: Path, *extra: str) -> Path:
    run(desk, "digest", "--out", str(path), *extra)
    return path


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """The keeper's signing key (``auditor``; the public key is ``auditor.pub``)."""
    path = tmp_path / "auditor"
    result = CliRunner().invoke(ledger_cli, ["digest", "keygen", "--out", str(path)])
    assert result.exit_code == 0, result.output
    return path


# --------------------------------------------------------------------------- clean


def test_a_clean_ledger_verifies(desk: Desk, tmp_path: Path) -> None:
    count = desk.ledger.event_count()
    position, head_hash = head(desk)
    assert position == count

    # The real command, in a subprocess: exit 0, a human summary, no progress bar off a TTY.
    human = Cli(desk.ledger.location.url).run("verify")
    assert f"{count} events checked: head position {count}, hash {head_hash.hex()}" in (
        human.stdout
    )
    assert "ledger verified: every check holds" in human.stdout
    assert "FAILED" not in human.stdout and human.stderr == ""

    data = verdict(desk, code=0)
    assert data["events"] == count
    assert data["head"] == {"position": count, "hash": head_hash.hex()}
    assert data["problems"] == []
    assert all(check["ok"] for check in data["checks"].values())

    # Read models caught up to the head are not "ahead".
    assert desk.ledger.projections.catch_up() > 0
    assert verdict(desk, code=0)["checks"]["read_models"] == {"ok": True, "problems": 0}


def test_verify_aggregate_checks_one_tickets_links(desk: Desk) -> None:
    ticket_id = desk.ledger.tickets.resolve_id("T-2026-000002")
    checks = aggregate(desk, ticket_id)
    assert [c.version for c in checks] == [1, 2, 3]
    assert all(c.ok and c.problem is None for c in checks)
    positions = [c.position for c in checks]
    assert positions == sorted(positions) and len(set(positions)) == 3
    for c in checks:
        assert c.position is not None
        stored, previous = (
            bytes(one(desk, f"SELECT event_hash FROM {CHAIN_TABLE} WHERE position = :p", p=p)[0])
            for p in (c.position, c.position - 1)
        )
        assert c.event_hash == stored.hex()
        assert c.previous_hash == previous.hex()
    assert aggregate(desk, UUID(int=0)) == []
    assert verify_aggregate(desk.ledger.engine, events(desk), str(ticket_id)) == checks


# --------------------------------------------------------------------------- tampering


def test_a_flipped_byte_is_found_at_its_position(desk: Desk) -> None:
    (_, _), (position, notification), (_, _) = positions_of(desk, "T-2026-000002")
    unguard(desk)
    column = id_column(desk)
    select = f"SELECT state FROM {events(desk)} WHERE {column} = :n"
    state = bytes(one(desk, select, n=notification)[0])
    flipped = state[:10] + bytes([state[10] ^ 0x01]) + state[11:]
    sql(
        desk, f"UPDATE {events(desk)} SET state = :s WHERE {column} = :n", s=flipped, n=notification
    )

    data = verdict(desk)
    assert data["checks"]["hashes"] == {"ok": False, "problems": 1}
    assert [p["check"] for p in data["problems"]] == ["hashes"]  # nowhere else
    assert first_problem(data) == {
        "check": "hashes",
        "position": position,
        "notification_id": notification,
        "originator_id": str(desk.ledger.tickets.resolve_id("T-2026-000002")),
        "subject": "ticket T-2026-000002",
        "version": 2,
        "message": f"position {position} (ticket T-2026-000002 version 2): {REWRITTEN}",
    }
    human = run(desk, "verify", code=1)
    assert (
        f"  FAILED  hashes: position {position} (ticket T-2026-000002 version 2): "
        "event_hash does not match" in human.stdout
    )
    assert (
        f"1 problem; first: position {position} (ticket T-2026-000002 version 2): {REWRITTEN}"
        in human.stderr
    )

    # The per-ticket check points at the same event; the other tickets are untouched.
    checks = aggregate(desk, desk.ledger.tickets.resolve_id("T-2026-000002"))
    assert [c.ok for c in checks] == [True, False, True]
    assert checks[1].problem == f"position {position}: {REWRITTEN}"
    other = aggregate(desk, desk.ledger.tickets.resolve_id("T-2026-000001"))
    assert all(c.ok for c in other)


def test_deleting_the_last_event_row_leaves_its_link_pointing_at_nothing(desk: Desk) -> None:
    last, _ = head(desk)
    notification = notification_at(desk, last)
    unguard(desk)
    delete_events(desk, [notification], links=False)
    data = verdict(desk)
    assert first_problem(data)["check"] == "events"
    assert first_problem(data)["position"] == last
    assert first_problem(data)["message"] == (
        f"position {last}: event (notification {notification}) is missing"
    )
    assert len(data["problems"]) == 1


def test_truncating_event_and_link_is_caught_only_by_an_earlier_digest(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    last, _ = head(desk)
    before = take(desk, tmp_path / "before.json", "--key", str(key))
    unguard(desk)
    delete_events(desk, [notification_at(desk, last)], links=True)

    # The shortened log is a consistent chain on its own: only the digest remembers.
    assert verdict(desk, code=0)["head"]["position"] == last - 1
    data = verdict(desk, "--digest", str(before), "--public-key", f"{key}.pub")
    assert data["problems"] == [
        {
            "check": "digests",
            "position": last,
            "notification_id": None,
            "originator_id": None,
            "subject": None,
            "version": None,
            "message": f"log ends at position {last - 1} but digest {before} was taken at "
            f"{last} (truncated)",
        }
    ]
    assert data["digests"][0]["ok"] is False


def test_a_read_model_ahead_of_the_log_reveals_a_truncation(desk: Desk) -> None:
    desk.ledger.projections.catch_up()
    last, _ = head(desk)
    notification = notification_at(desk, last)
    unguard(desk)
    delete_events(desk, [notification], links=True)
    data = verdict(desk)
    assert data["checks"]["read_models"]["ok"] is False
    assert first_problem(data)["notification_id"] == notification
    assert "beyond the log's head" in first_problem(data)["message"]


@pytest.mark.parametrize("links", [False, True], ids=["events", "events-and-links"])
def test_deleting_a_whole_ticket_is_found_at_its_first_event(desk: Desk, links: bool) -> None:
    ticket = positions_of(desk, "T-2026-000002")
    (first, notification), *_ = ticket
    unguard(desk)
    delete_events(desk, [n for _, n in ticket], links=links)
    data = verdict(desk)
    problem = first_problem(data)
    assert problem["position"] == first
    if links:  # the ticket's three positions are gone: three gaps in the chain
        assert problem["message"] == f"positions jump from {first - 1} to {first + 1}"
        assert data["checks"]["positions"] == {"ok": False, "problems": 3}
    else:
        assert (
            problem["message"]
            == f"position {first}: event (notification {notification}) is missing"
        )
        assert data["checks"]["events"] == {"ok": False, "problems": 3}
    assert data["checks"]["hashes"]["ok"] is True  # each surviving link is sound


def test_a_missing_version_is_reported_at_the_event_after_it(desk: Desk) -> None:
    (_, _), (second, notification), (third, _) = positions_of(desk, "T-2026-000003")
    unguard(desk)
    delete_events(desk, [notification], links=True)
    data = verdict(desk)
    assert first_problem(data)["message"] == f"positions jump from {second - 1} to {second + 1}"
    [gap] = [p for p in data["problems"] if p["check"] == "versions"]
    assert gap["position"] == third
    assert gap["version"] == 3
    assert gap["message"] == (
        f"position {third}: ticket T-2026-000003 jumps from version 1 to 3 (version 2 is missing)"
    )


def test_swapping_two_events_is_found_at_the_earlier(desk: Desk) -> None:
    (a, na), _, _ = positions_of(desk, "T-2026-000001")
    _, _, (b, nb) = positions_of(desk, "T-2026-000003")
    unguard(desk)
    table, column = events(desk), id_column(desk)
    columns = "originator_id, originator_version, topic, state"
    rows = {
        n: one(desk, f"SELECT {columns} FROM {table} WHERE {column} = :n", n=n) for n in (na, nb)
    }
    assign = "originator_id = :o, originator_version = :v, topic = :t, state = :s"
    sql(desk, f"UPDATE {table} SET originator_version = -1 WHERE {column} = :n", n=na)
    for target, (o, v, t, s) in ((nb, rows[na]), (na, rows[nb])):
        sql(desk, f"UPDATE {table} SET {assign} WHERE {column} = :n", o=o, v=v, t=t, s=s, n=target)

    data = verdict(desk)
    hashes = [p for p in data["problems"] if p["check"] == "hashes"]
    assert [p["position"] for p in hashes] == [a, b]
    assert first_problem(data)["message"] == (
        f"position {a} (ticket T-2026-000003 version 3): {REWRITTEN}"
    )
    # The later event now stands first: recorded time goes backwards after it.
    assert data["checks"]["times"]["ok"] is False


def test_unchained_events_are_found(desk: Desk) -> None:
    unguard(desk)
    sql(
        desk,
        f"INSERT INTO {events(desk)} (originator_id, originator_version, topic, state) "
        "VALUES (:o, 1, 'ledger.domain.ticket:Reported', :s)",
        o=str(UUID(int=7)),
        s=b"{}",
    )
    data = verdict(desk)
    [problem] = data["problems"]
    assert problem["check"] == "unchained" and problem["position"] is None
    assert problem["originator_id"] == str(UUID(int=7))
    assert problem["message"].endswith(
        "is not in the chain (inserted behind the recorder's back, or its link was deleted)"
    )


def test_a_rewritten_and_rehashed_history_is_caught_by_a_digest(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    """The attacker knows the hash format and recomputes every link after their edit:
    the chain is consistent again, and only a digest taken before tells."""
    before = take(desk, tmp_path / "before.json", "--key", str(key))
    last, _ = head(desk)
    (position, notification), _, _ = positions_of(desk, "T-2026-000002")
    unguard(desk)
    table, column = events(desk), id_column(desk)
    sql(
        desk,
        f"UPDATE {table} SET state = :s WHERE {column} = :n",
        s=b'{"forged": true}',
        n=notification,
    )
    prev = bytes(
        one(desk, f"SELECT event_hash FROM {CHAIN_TABLE} WHERE position = :p", p=position - 1)[0]
    )
    for c in links_after(desk, position - 1):
        prev = link(prev, canonical_bytes(c["position"], *c["event"]))
        sql(
            desk,
            f"UPDATE {CHAIN_TABLE} SET event_hash = :h WHERE position = :p",
            h=prev,
            p=c["position"],
        )

    assert verdict(desk, code=0)["ok"] is True
    data = verdict(desk, "--digest", str(before), "--public-key", f"{key}.pub")
    assert [p["message"] for p in data["problems"]] == [
        f"digest {before}: head hash at position {last} differs (history rewritten)"
    ]
    assert first_problem(data)["position"] == last


def links_after(desk: Desk, after: int) -> list[dict[str, Any]]:
    """Each link after ``after`` with the canonical fields of its (present) event."""
    return [
        {
            "position": c.position,
            "event": (c.originator_id, c.originator_version, c.topic, c.state),
        }
        for c in iter_chain(desk.ledger.engine, events(desk), after=after)
    ]


# --------------------------------------------------------------------------- digests


def test_forged_digests_are_refused(desk: Desk, tmp_path: Path, key: Path) -> None:
    signed = take(desk, tmp_path / "signed.json", "--key", str(key))
    document = json.loads(signed.read_text())
    last = document["position"]
    public = ("--public-key", f"{key}.pub")

    for name, change in (
        ("head", {"head_hash": "00" * 32}),
        ("position", {"position": last - 1}),
    ):
        forged = tmp_path / f"forged-{name}.json"
        forged.write_text(json.dumps(document | change))
        for args in ((), public):
            data = verdict(desk, "--digest", str(forged), *args)
            assert data["problems"] == [
                {
                    "check": "signatures",
                    "position": None,
                    "notification_id": None,
                    "originator_id": None,
                    "subject": None,
                    "version": None,
                    "message": f"digest {forged}: signature invalid",
                }
            ]
            assert data["digests"][0]["ok"] is False

    # Signed by someone else's key: self-consistent, so only --public-key tells.
    other = tmp_path / "other"
    CliRunner().invoke(ledger_cli, ["digest", "keygen", "--out", str(other)])
    impostor = take(desk, tmp_path / "impostor.json", "--key", str(other))
    assert verdict(desk, "--digest", str(impostor), code=0)["digests"][0]["ok"] is True
    data = verdict(desk, "--digest", str(impostor), *public)
    [problem] = data["problems"]
    assert problem["check"] == "signatures"
    assert problem["message"].startswith(f"digest {impostor}: signed by key ")
    assert "not by the --public-key" in problem["message"]

    # An unsigned digest cannot satisfy --public-key either.
    unsigned = take(desk, tmp_path / "unsigned.json")
    assert verdict(desk, "--digest", str(unsigned), code=0)["digests"][0]["signed"] is False
    data = verdict(desk, "--digest", str(unsigned), *public)
    assert first_problem(data)["message"] == (
        f"digest {unsigned}: unsigned, but --public-key requires a digest signed with it"
    )
    human = run(desk, "verify", "--digest", str(unsigned), "--digest", str(signed), *public, code=1)
    assert f"  FAILED  digest {unsigned}: position {last}" in human.stdout
    assert f"  ok      digest {signed}: position {last}" in human.stdout


def test_a_digest_round_trips_and_a_longer_log_extends_it(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    path = take(desk, tmp_path / "d.json", "--key", str(key))
    loaded = load_digest(path)
    position, head_hash = head(desk)
    assert (loaded.position, loaded.head_hash) == (position, head_hash)
    assert loaded.event_count == desk.ledger.event_count()
    assert loaded.ledger == desk.ledger.location.describe()
    assert (
        loaded.created_at == parse_time(NOW, SHANGHAI).astimezone(UTC).isoformat()
    )  # UTC, from LEDGER_NOW
    assert loaded.created_at.endswith("+00:00")
    assert loaded.signed and loaded.signature_valid()
    assert json.loads(path.read_text()) == loaded.document()
    pem = (Path(f"{key}.pub")).read_text()
    assert "BEGIN PUBLIC KEY" in pem

    # Printed, it is the same document; written, it never replaces a file.
    printed = json.loads(run(desk, "digest", "--key", str(key)).stdout)
    assert printed == loaded.document()
    refused = run(desk, "digest", "--out", str(path), code=2)
    assert "already exists" in refused.stderr
    assert json.loads(path.read_text()) == loaded.document()

    # Unsigned: allowed, and says so.
    unsigned = run(desk, "digest")
    assert json.loads(unsigned.stdout)["algorithm"] == "unsigned"
    assert "unsigned digest" in unsigned.stderr

    # More events later: the old digest is still a prefix of the log.
    desk.later(30)  # after the digest was taken (LEDGER_NOW): time never goes backwards
    desk.report(device="报警主机")
    data = verdict(desk, "--digest", str(path), "--public-key", f"{key}.pub", code=0)
    assert data["head"]["position"] == position + 2
    assert data["digests"][0] | {"problems": None} == {
        "file": str(path),
        "ok": True,
        "position": position,
        "head_hash": head_hash.hex(),
        "created_at": loaded.created_at,
        "ledger": loaded.ledger,
        "signed": True,
        "public_key": loaded.public_key.hex() if loaded.public_key else None,
        "problems": None,
    }


def test_keygen_writes_a_private_key_only_the_owner_reads(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "signing"
    result = runner.invoke(ledger_cli, ["digest", "keygen", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(f"{out}.pub").stat().st_mode) == 0o644
    assert "BEGIN PRIVATE KEY" in out.read_text()
    private = out.read_bytes()

    again = runner.invoke(ledger_cli, ["digest", "keygen", "--out", str(out)])
    assert again.exit_code == 2
    assert again.stderr.strip() == f"Error: {out}: already exists (give --force to overwrite it)"
    assert out.read_bytes() == private

    mixed = runner.invoke(ledger_cli, ["digest", "--json", "keygen", "--out", str(tmp_path / "x")])
    assert mixed.exit_code == 2
    assert "--json: options of `ledger digest`" in mixed.stderr
    assert not (tmp_path / "x").exists()

    nowhere = tmp_path / "missing" / "key"
    result = runner.invoke(ledger_cli, ["digest", "keygen", "--out", str(nowhere)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"Error: cannot create {nowhere}: No such file or directory"


def test_unusable_digest_and_key_files_are_bad_input(desk: Desk, tmp_path: Path) -> None:
    good = take(desk, tmp_path / "good.json")
    document = json.loads(good.read_text())
    cases = {
        "missing.json": None,
        "text.json": "not json",
        "list.json": "[]",
        "format.json": json.dumps(document | {"format": "other"}),
        "hash.json": json.dumps(document | {"head_hash": "xyz"}),
        "extra.json": json.dumps(document | {"note": "x"}),
        "alg.json": json.dumps(document | {"algorithm": "none"}),
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        result = run(desk, "verify", "--digest", str(good), "--digest", str(path), code=2)
        assert result.stdout == ""
        [line] = result.stderr.strip().splitlines()
        assert line.startswith(f"Error: digest {path}: "), line

    not_a_key = tmp_path / "not-a-key.pub"
    not_a_key.write_text("hello")
    result = run(desk, "verify", "--digest", str(good), "--public-key", str(not_a_key), code=2)
    assert "neither a PEM public key nor 64 hex digits" in result.stderr
    result = run(desk, "digest", "--key", str(not_a_key), code=2)
    assert f"key {not_a_key}: not an unencrypted PEM private key" in result.stderr
    assert "give --digest FILE" in run(desk, "verify", "--public-key", str(good), code=2).stderr


def test_the_reader_role_can_digest_and_verify(roles: Roles, tmp_path: Path) -> None:  # noqa: F811
    """Auditors need only SELECT: the documented reader role takes digests and verifies."""
    path = tmp_path / "reader.json"
    invoke(roles.reader_url, "digest", "--out", str(path))
    assert load_digest(path).position > 0
    result = invoke(roles.reader_url, "verify", "--json", "--digest", str(path))
    assert json.loads(result.stdout)["ok"] is True


# --------------------------------------------------------------------------- ids and times


def append_raw(desk: Desk, originator_id: UUID, version: int, topic: str, state: bytes) -> int:
    """Append an event and a valid link behind the recorder's back, as an attacker who
    knows the hash format would; its chain position."""
    sqlite = desk.ledger.location.kind == "sqlite"
    table, column = events(desk), id_column(desk)
    sql(
        desk,
        f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
        "VALUES (:o, :v, :t, :s)",
        o=originator_id.hex if sqlite else originator_id,
        v=version,
        t=topic,
        s=state,
    )
    notification = int(one(desk, f"SELECT max({column}) FROM {table}")[0])
    position, prev = head(desk)
    event_hash = link(prev, canonical_bytes(position + 1, originator_id, version, topic, state))
    sql(
        desk,
        f"INSERT INTO {CHAIN_TABLE} (position, notification_id, event_hash) VALUES (:p, :n, :h)",
        p=position + 1,
        n=notification,
        h=event_hash,
    )
    return position + 1


def stored(desk: Desk, number: str, version: int) -> tuple[str, bytes]:
    """(topic, state) of a ticket's stored event."""
    ticket_id = desk.ledger.tickets.resolve_id(number)
    sqlite = desk.ledger.location.kind == "sqlite"
    topic, state = one(
        desk,
        f"SELECT topic, state FROM {events(desk)} WHERE originator_id = :o "
        "AND originator_version = :v",
        o=ticket_id.hex if sqlite else ticket_id,
        v=version,
    )
    return str(topic), bytes(state)


def test_a_respelled_id_fails_verify_and_a_history_forged_under_the_real_id_is_caught(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    """Upper-casing a ticket's stored id keeps every hash (the hash covers the id's value)
    but hides its events from every lookup: verify refuses the spelling, and a history
    appended under the real id shows as the same ticket with version 1 twice. PostgreSQL's
    uuid column has one spelling: the same edit changes nothing there."""
    ticket_id = desk.ledger.tickets.resolve_id("T-2026-000002")
    before = take(desk, tmp_path / "before.json", "--key", str(key))
    unguard(desk)
    if desk.ledger.location.kind != "sqlite":
        sql(
            desk,
            f"UPDATE {events(desk)} SET originator_id = upper(originator_id::text)::uuid "
            "WHERE originator_id = :o",
            o=ticket_id,
        )
        assert verdict(desk, code=0)["ok"] is True
        assert run(desk, "ticket", "show", "T-2026-000002").exit_code == 0
        return
    sql(
        desk,
        f"UPDATE {events(desk)} SET originator_id = upper(originator_id) WHERE originator_id = :o",
        o=ticket_id.hex,
    )
    assert "no ticket" in run(desk, "ticket", "show", "T-2026-000002", code=2).output.lower()
    data = verdict(desk, "--digest", str(before), "--public-key", f"{key}.pub")
    respelled = [p for p in data["problems"] if p["check"] == "ids"]
    assert data["checks"]["ids"] == {"ok": False, "problems": 3}
    first = respelled[0]
    assert first["subject"] == "ticket T-2026-000002" and first["version"] == 1
    assert first["message"].startswith(
        f"position {first['position']} (ticket T-2026-000002 version 1): stored originator id "
        f"'{ticket_id.hex.upper()}' is not in the form the recorder writes"
    )
    assert data["checks"]["hashes"]["ok"] is True  # the hashes alone would not tell

    # The forger re-creates the ticket under its real id, with valid links.
    topic, state = stored(desk, "T-2026-000001", 1)  # any Reported will do for a shape
    forged = state.replace(b"T-2026-000001", b"T-2026-000002")
    position = append_raw(desk, ticket_id, 1, topic, forged)
    data = verdict(desk)
    [twice] = [p for p in data["problems"] if p["check"] == "versions"]
    assert twice["position"] == position
    assert twice["message"] == f"position {position}: ticket T-2026-000002 has version 1 twice"


def test_a_recorded_time_that_goes_backwards_fails_verify_naming_ticket_and_version(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    before = take(desk, tmp_path / "before.json", "--key", str(key))  # taken at LEDGER_NOW
    taken = load_digest(before).created_at
    topic, state = stored(desk, "T-2026-000001", 3)
    month_ago = parse_time("2026-09-08T09:00", SHANGHAI).astimezone(UTC)
    recorded = desk.ledger.tickets.history("T-2026-000001")[2].timestamp
    stamp = recorded.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    assert state.startswith(b'{"timestamp":"' + stamp)
    backdated = state.replace(stamp, month_ago.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), 1)
    unguard(desk)
    position = append_raw(
        desk, desk.ledger.tickets.resolve_id("T-2026-000001"), 4, topic, backdated
    )

    data = verdict(desk)
    [backwards] = [p for p in data["problems"] if p["check"] == "times"]
    assert backwards["position"] == position and backwards["version"] == 4
    assert backwards["subject"] == "ticket T-2026-000001"
    assert backwards["message"].startswith(
        f"position {position} (ticket T-2026-000001 version 4): recorded at "
        "2026-09-08T01:00:00+00:00, before the event it follows in the chain"
    )
    human = run(desk, "verify", code=1)
    assert "FAILED  times: position" in human.stdout

    with_digest = verdict(desk, "--digest", str(before), "--public-key", f"{key}.pub")
    [late] = [p for p in with_digest["problems"] if p["check"] == "digests"]
    assert late["position"] == position
    assert late["message"] == (
        f"digest {before}: position {position} (ticket T-2026-000001 version 4), the first "
        "event after it, was recorded at 2026-09-08T01:00:00+00:00, before the digest was "
        f"taken ({taken}): recorded time went backwards"
    )
    assert with_digest["digests"][0]["ok"] is False


def test_a_shorter_log_with_a_broken_chain_is_not_called_truncated(
    desk: Desk, tmp_path: Path, key: Path
) -> None:
    """Events and links removed from the middle: the log is shorter than the digest, but
    the tail is not what is missing."""
    before = take(desk, tmp_path / "before.json", "--key", str(key))
    (position, notification), _, _ = positions_of(desk, "T-2026-000002")
    unguard(desk)
    delete_events(desk, [notification], links=True)
    sql(desk, f"UPDATE {CHAIN_TABLE} SET position = position - 1 WHERE position > :p", p=position)
    data = verdict(desk, "--digest", str(before), "--public-key", f"{key}.pub")
    [short] = [p for p in data["problems"] if p["check"] == "digests"]
    assert "(truncated)" not in short["message"]
    assert short["message"].endswith(f"(events removed: the chain breaks at position {position})")


# --------------------------------------------------------------------------- the clock


def call(url: str, *args: str, code: int = 0, **env: str) -> Result:
    """The real ``ledger`` command on the real clock unless ``LEDGER_NOW`` is given."""
    base = {"LEDGER_DB": url, "LEDGER_NOW": "", "LEDGER_DIGEST_KEY": ""}
    result = CliRunner().invoke(ledger_cli, list(args), env=base | env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


ADMIN = {"LEDGER_ACTOR": "系统管理员", "LEDGER_ROLE": "admin"}
DESK = {"LEDGER_ACTOR": "李娜", "LEDGER_ROLE": "dispatcher"}
SEED = str(Path(__file__).parents[2] / "examples" / "contracts" / "seed-002.toml")


def test_ledger_now_is_refused_on_a_ledger_that_records_the_real_time(db_url: str) -> None:
    assert "fixed clock" not in call(db_url, "init").output
    refused = call(db_url, "contract", "list", code=2, LEDGER_NOW=NOW)
    assert refused.stderr == (
        "Error: LEDGER_NOW: refused, this ledger records the real time (a fixed clock is "
        "only for a demo or test ledger created with `ledger init --fixed-clock`)\n"
    )
    call(db_url, "contract", "load", SEED, **ADMIN)  # the real clock: accepted
    data = json.loads(call(db_url, "verify", "--json").stdout)
    assert data["ok"] is True and data["clock"] == {"kind": "real", "fixed_since": None}
    # A ledger that holds real-time events cannot become a fixed-clock one.
    again = call(db_url, "init", "--fixed-clock", code=2)
    assert "a fixed clock is only for a new, empty ledger" in again.stderr
    call(db_url, "contract", "list", code=2, LEDGER_NOW=NOW)


def test_a_fixed_clock_ledger_says_so_and_refuses_a_recorded_time_going_backwards(
    db_url: str, tmp_path: Path
) -> None:
    fixed = {"LEDGER_NOW": NOW}
    assert "recorded times come from a fixed clock" in (
        call(db_url, "init", "--fixed-clock", **fixed).output
    )
    call(db_url, "contract", "load", SEED, **ADMIN, **fixed)
    call(db_url, *REPORT_ARGS, **DESK, **fixed)
    count = len(
        json.loads(call(db_url, "ticket", "history", "T-2026-000001", "--json", **fixed).stdout)
    )

    earlier = {"LEDGER_NOW": "2026-10-08T09:20"}  # ten minutes before the last event
    refused = call(
        db_url,
        "ticket",
        "respond",
        "T-2026-000001",
        "--at",
        "2026-10-08T09:15",
        code=1,
        **DESK,
        **earlier,
    )
    assert refused.stderr.startswith(
        "Error: refused: recorded time 2026-10-08T01:20:00Z is before 2026-10-08T01:30:00Z, "
        "the recorded time of the last event in the log"
    )
    history = json.loads(
        call(db_url, "ticket", "history", "T-2026-000001", "--json", **fixed).stdout
    )
    assert len(history) == count  # nothing written
    lines = tmp_path / "respond.jsonl"
    line = {"command": "respond", "ticket": "T-2026-000001", "at": "2026-10-08T09:15"}
    lines.write_text(json.dumps(line | {"actor": "李娜", "role": "dispatcher"}) + "\n")
    imported = call(db_url, "import", str(lines), code=2, **earlier)
    assert "refused: recorded time 2026-10-08T01:20:00Z is before" in imported.output

    human = call(db_url, "verify", **fixed).output
    assert "  note    clock: recorded times come from a fixed clock (LEDGER_NOW)" in human
    data = json.loads(call(db_url, "verify", "--json", **fixed).stdout)
    assert data["ok"] is True and data["clock"]["kind"] == "fixed"
    audit = json.loads(call(db_url, "report", "audit", "--json", **fixed).stdout)
    assert audit["clock"] == "fixed" and audit["recorded_backwards"] == []
    assert "· fixed clock: a demo or test ledger" in call(db_url, "report", "audit", **fixed).output
    zh = call(db_url, "report", "audit", "--lang", "zh", **fixed).output
    assert "· 固定时钟：演示或测试账本" in zh
    dossier = json.loads(
        call(db_url, "export", "--ticket", "T-2026-000001", "--format", "json", **fixed).stdout
    )
    assert dossier["integrity"]["clock"] == "fixed"
    assert "demo or test ledger" in dossier["integrity"]["clock_note"]
