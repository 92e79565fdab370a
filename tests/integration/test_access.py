"""Who was given access (ledger/domain/access.py, docs/api.md "Who was given access"), on
SQLite and PostgreSQL: granting, re-issuing and revoking an API / dashboard user is an
event in the log (chained, verified, in the feed, never the token), recorded only by an
admin, in the same transaction as the ``api_users`` row it changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from ledger.cli import cli as ledger_cli
from ledger.commands.users import UserError, Users
from ledger.domain.access import AccessGranted, AccessRevoked, TokenReissued, decide_reissue
from ledger.domain.roles import Forbidden
from ledger.domain.values import Role
from ledger.feed import read_feed
from ledger.feed.schemas import data_schema
from ledger.integrity.verify import verify_ledger
from ledger.storage.api_users import UserRowWrite, api_users
from tests.support import USER_ADMIN, Desk, open_desk

ACCESS_TYPES = ["ledger.user.*"]


@pytest.fixture
def desk(db_url: str) -> Iterator[Desk]:
    desk = open_desk(db_url)
    desk.report()
    yield desk
    desk.ledger.close()


def users_of(desk: Desk) -> Users:
    return Users(desk.ledger.engine, desk.clock, desk.ledger.app)


def stored_states(desk: Desk) -> bytes:
    table = desk.ledger.location.events_table
    with desk.ledger.engine.connect() as conn:
        return b"".join(bytes(row[0]) for row in conn.exec_driver_sql(f"SELECT state FROM {table}"))


def row_of(desk: Desk, name: str) -> Any:
    with desk.ledger.engine.connect() as conn:
        return conn.execute(select(api_users).where(api_users.c.name == name)).first()


def test_granting_reissuing_and_revoking_are_chained_events_without_the_token(
    desk: Desk,
) -> None:
    users = users_of(desk)
    _, first = users.add("审计-王", Role.AUDITOR, **USER_ADMIN)
    desk.later(5)
    _, second = users.reissue("审计-王", **USER_ADMIN)
    desk.later(5)
    users.revoke("审计-王", **USER_ADMIN)

    feed = read_feed(desk.ledger, types=ACCESS_TYPES)
    assert [e["type"] for e in feed] == [
        "ledger.user.granted.v1",
        "ledger.user.token_reissued.v1",
        "ledger.user.revoked.v1",
    ]
    assert {e["subject"] for e in feed} == {"审计-王"}
    assert {(e["actor"], e["role"]) for e in feed} == {("系统管理员", "admin")}
    assert feed[0]["data"] == {"name": "审计-王", "user_role": "auditor"}
    assert feed[1]["data"] == feed[2]["data"] == {"name": "审计-王"}
    assert feed[0]["recordedtime"] < feed[1]["recordedtime"] < feed[2]["recordedtime"]

    # Neither token, nor any part of it, nor the stored salt or digest is in the log.
    row = row_of(desk, "审计-王")
    states = stored_states(desk)
    for token in (first, second):
        key, secret = token[4:20], token[21:]  # ldg_<16 hex>_<43 characters, "_" among them>
        assert f"ldg_{key}_{secret}" == token and len(secret) == 43
        for part in (token, key, secret):
            assert part.encode() not in states
    assert row.token_salt not in states and row.token_digest not in states
    assert row.token_key.encode() not in states

    history = users.history("审计-王")
    assert [type(e) for e in history] == [AccessGranted, TokenReissued, AccessRevoked]
    assert row.revoked_at is not None and history[-1].recorded_at == desk.clock.now()
    verdict = verify_ledger(desk.ledger.engine, desk.ledger.location.events_table)
    assert verdict.ok, verdict.problems
    assert data_schema("ledger.user.granted.v1")["required"] == ["name", "user_role"]


def test_only_an_admin_changes_access_and_a_refusal_records_nothing(desk: Desk) -> None:
    users = users_of(desk)
    users.add("quality", Role.QUALITY, **USER_ADMIN)
    before = desk.ledger.event_count()
    with pytest.raises(Forbidden, match="user_grant needs role admin; 李娜 is dispatcher"):
        users.add("other", Role.AUDITOR, actor="李娜", actor_role=Role.DISPATCHER)
    with pytest.raises(Forbidden, match="user_reissue needs role admin"):
        users.reissue("quality", actor="审计", actor_role=Role.AUDITOR)
    with pytest.raises(Forbidden, match="user_revoke needs role admin"):
        users.revoke("quality", actor="总工办", actor_role=Role.CHIEF_ENGINEER_OFFICE)
    with pytest.raises(UserError, match="already exists"):
        users.add("quality", Role.QUALITY, **USER_ADMIN)
    assert desk.ledger.event_count() == before
    assert row_of(desk, "other") is None and row_of(desk, "quality").revoked_at is None


def test_an_event_that_cannot_be_stored_takes_its_row_with_it(desk: Desk) -> None:
    """A re-issue decided on a stale state loses to a concurrent one: its event conflicts,
    and its new token (written in the same transaction) is rolled back with it."""
    users = users_of(desk)
    users.add("erp", Role.SYSTEM, **USER_ADMIN)
    stale = users._existing("erp")
    _, winner = users.reissue("erp", **USER_ADMIN)
    stamp = users._stamp("user_reissue", "系统管理员", Role.ADMIN)
    loser = decide_reissue(stale, stamp)
    before = desk.ledger.event_count()
    with pytest.raises(UserError, match="changed concurrently"):
        users._save(loser, UserRowWrite("update", "erp", {"token_key": "0" * 16}))
    assert desk.ledger.event_count() == before
    assert row_of(desk, "erp").token_key == winner.split("_")[1]
    assert users.authenticate(winner) is not None


def test_a_row_that_cannot_be_written_takes_its_event_with_it(desk: Desk) -> None:
    users = users_of(desk)
    users.add("erp", Role.SYSTEM, **USER_ADMIN)
    with desk.ledger.engine.begin() as conn:  # the row says revoked, the log does not
        conn.execute(update(api_users).values(revoked_at=desk.clock.now()))
    before = desk.ledger.event_count()
    with pytest.raises(UserError, match="is revoked"):
        users.reissue("erp", **USER_ADMIN)
    assert desk.ledger.event_count() == before
    assert [type(e) for e in users.history("erp")] == [AccessGranted]


def test_the_user_commands_name_who_changed_access(sqlite_url: str) -> None:
    runner = CliRunner()

    def run(*args: str, **env: str) -> Any:
        return runner.invoke(ledger_cli, ["--db", sqlite_url, *args], env=env)

    assert run("init", "--fixed-clock", LEDGER_NOW="2026-11-20T09:30").exit_code == 0
    missing = run("user", "add", "erp", "--role", "system")
    assert missing.exit_code == 2 and "--actor" in missing.stderr
    dispatcher = run(
        "user", "add", "erp", "--role", "system", "--actor", "李娜", "--actor-role", "dispatcher"
    )
    assert dispatcher.exit_code == 2
    assert "user_grant needs role admin; 李娜 is dispatcher" in dispatcher.stderr
    admin = {"LEDGER_ACTOR": "系统管理员", "LEDGER_ROLE": "admin", "LEDGER_NOW": "2026-11-20T09:30"}
    assert run("user", "add", "erp", "--role", "system", **admin).exit_code == 0
    assert run("user", "revoke", "erp", **admin).exit_code == 0
    history = json.loads(run("user", "history", "erp", "--json").stdout)
    assert [(h["type"], h["actor"], h["role"], h["occurred_at"]) for h in history] == [
        ("AccessGranted", "系统管理员", "admin", "2026-11-20T09:30:00+08:00"),
        ("AccessRevoked", "系统管理员", "admin", "2026-11-20T09:30:00+08:00"),
    ]
    assert history[0]["user_role"] == "system"
    feed = run("feed", "--type", "ledger.user.*")
    assert feed.exit_code == 0, feed.output
    assert [json.loads(line)["type"] for line in feed.stdout.splitlines()] == [
        "ledger.user.granted.v1",
        "ledger.user.revoked.v1",
    ]
    (listed,) = json.loads(run("user", "list", "--json").stdout)
    assert listed["created_at"] == "2026-11-20T09:30:00+08:00"  # UTC in the table


def test_init_records_the_access_of_users_added_before_it_was_logged(desk: Desk) -> None:
    """A row written the old way (no event): `ledger init` records its grant, re-issue and
    revocation at the row's own times, once."""
    created = desk.clock.now() - timedelta(days=30)
    row = {"token_salt": bytes(16), "token_digest": bytes(32), "created_at": created}
    with desk.ledger.engine.begin() as conn:
        conn.execute(
            api_users.insert(),
            [
                {**row, "name": "old-erp", "role": "system", "token_key": "0" * 16}
                | {"token_issued_at": created + timedelta(days=1), "revoked_at": None},
                {**row, "name": "old-qa", "role": "quality", "token_key": "1" * 16}
                | {"token_issued_at": created, "revoked_at": created + timedelta(days=2)},
            ],
        )
    users = users_of(desk)
    with pytest.raises(UserError, match="run `ledger init` once"):
        users.revoke("old-erp", **USER_ADMIN)

    def init() -> Any:
        return CliRunner().invoke(
            ledger_cli,
            ["--db", desk.ledger.location.url, "init"],
            env={"LEDGER_NOW": desk.clock.now().isoformat()},
        )

    first = init()
    assert first.exit_code == 0, first.output
    assert "recorded the access of 2 API user(s)" in first.stdout and "old-erp" in first.stdout
    erp, qa = users.history("old-erp"), users.history("old-qa")
    assert [type(e) for e in erp] == [AccessGranted, TokenReissued]
    assert [type(e) for e in qa] == [AccessGranted, AccessRevoked]
    assert [e.occurred_at for e in erp] == [created, created + timedelta(days=1)]
    assert qa[-1].occurred_at == created + timedelta(days=2)
    assert {(e.actor, e.role) for e in erp + qa} == {("ledger init", Role.ADMIN)}
    assert erp[0].user_role == Role.SYSTEM  # type: ignore[attr-defined]
    again = init()
    assert again.exit_code == 0 and "recorded the access" not in again.stdout
    users.revoke("old-erp", **USER_ADMIN)  # an ordinary user now
    assert verify_ledger(desk.ledger.engine, desk.ledger.location.events_table).ok
