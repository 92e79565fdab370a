"""The append-only guard (docs/integrity.md): database triggers refuse any change to a
recorded event, on SQLite and PostgreSQL; the documented PostgreSQL roles work as stated."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger.bootstrap import Ledger
from ledger.storage.append_only import (
    MESSAGE,
    PG_FUNCTION,
    PG_ROW_TRIGGER,
    PG_SCHEMA,
    PG_TRUNCATE_TRIGGER,
    SQLITE_TRIGGERS,
)
from ledger.storage.tables import metadata
from tests.support import START, Desk, open_desk

INTEGRITY_MD = Path(__file__).parents[2] / "docs" / "integrity.md"
NOW = "2026-10-08T09:30"


def run_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LEDGER_DB": url, "LEDGER_NOW": NOW}
    return subprocess.run(
        [sys.executable, "-m", "ledger", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def desk_with_tickets(url: str) -> Desk:
    desk = open_desk(url)
    for device in ("门禁控制器", "摄像机", "硬盘录像机"):
        desk.report(device=device)
        desk.later(5)
    return desk


def events_table(desk: Desk) -> str:
    return desk.ledger.location.events_table


def snapshot(desk: Desk) -> list[tuple[Any, ...]]:
    """Every stored event, bytes included, with its position (rowid / notification_id)."""
    position = "rowid" if desk.ledger.location.kind == "sqlite" else "notification_id"
    columns = f"{position}, originator_id, originator_version, topic, state"
    query = f"SELECT {columns} FROM {events_table(desk)} ORDER BY {position}"
    with desk.ledger.engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(query)]


def refused(engine: Engine, statement: str, **params: Any) -> str:
    """Run ``statement`` in its own transaction; it must fail. Return the error text."""
    with pytest.raises(DBAPIError) as caught, engine.begin() as conn:
        conn.execute(text(statement), params)
    return str(caught.value.orig)


def guard_triggers(desk: Desk) -> list[str]:
    """Names of the guard's triggers on the events table (sorted)."""
    with desk.ledger.engine.connect() as conn:
        if desk.ledger.location.kind == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
        else:
            query = (
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled = 'A' "
                "AND tgrelid = to_regclass(:t)"
            )
        return sorted(conn.scalars(text(query), {"t": events_table(desk)}))


def expected_triggers(desk: Desk) -> list[str]:
    if desk.ledger.location.kind == "sqlite":
        return sorted(SQLITE_TRIGGERS)
    return sorted([PG_ROW_TRIGGER, PG_TRUNCATE_TRIGGER])


def drop_guard(desk: Desk) -> None:
    """What an owner (or a ledger created before the guard) leaves: no triggers."""
    with desk.ledger.engine.begin() as conn:
        if desk.ledger.location.kind == "sqlite":
            for name in SQLITE_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
        else:  # the function, and with it both triggers
            conn.exec_driver_sql(f"DROP FUNCTION {PG_SCHEMA}.{PG_FUNCTION}() CASCADE")


# --------------------------------------------------------------------------- both databases


def test_update_and_delete_of_a_stored_event_are_refused(db_url: str) -> None:
    desk = desk_with_tickets(db_url)
    table, engine = events_table(desk), desk.ledger.engine
    before = snapshot(desk)
    _, originator_id, version, _topic, state = next(r for r in before if "Reported" in r[3])
    key = "originator_id = :id AND originator_version = :v"

    error = refused(
        engine,
        f"UPDATE {table} SET state = :s WHERE {key}",
        s=bytes(state).replace(b"emergency", b"minor"),
        id=originator_id,
        v=version,
    )
    assert f"{MESSAGE}: UPDATE refused" in error
    error = refused(engine, f"DELETE FROM {table} WHERE {key}", id=originator_id, v=version)
    assert f"{MESSAGE}: DELETE refused" in error
    assert f"{MESSAGE}: UPDATE refused" in refused(engine, f"UPDATE {table} SET topic = topic")
    assert f"{MESSAGE}: DELETE refused" in refused(engine, f"DELETE FROM {table}")
    assert snapshot(desk) == before

    # Appending still works, and the services still see their own events.
    ticket = desk.report(device="报警主机")
    assert ticket.number == "T-2026-000004"
    after = snapshot(desk)
    assert after[: len(before)] == before
    assert len(after) == len(before) + 2  # the number and the ticket
    assert desk.ledger.tickets.get(ticket.number).device == "报警主机"
    desk.ledger.close()


def test_overwriting_an_event_by_inserting_over_it_is_refused(db_url: str) -> None:
    desk = desk_with_tickets(db_url)
    table, engine = events_table(desk), desk.ledger.engine
    before = snapshot(desk)
    if desk.ledger.location.kind == "sqlite":
        # REPLACE deletes the existing row without firing DELETE triggers: caught on insert.
        columns = "originator_id, originator_version, topic, state"
        message = f"{MESSAGE}: INSERT over a recorded event refused"
        by_key = f"INSERT OR REPLACE INTO {table} SELECT {columns} FROM {table} LIMIT 1"
        by_rowid = (
            f"REPLACE INTO {table} (rowid, {columns}) VALUES (1, 'forged', 1, 'forged', x'00')"
        )
        assert message in refused(engine, by_key)
        assert message in refused(engine, by_rowid)
    else:
        upsert = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            f"SELECT originator_id, originator_version, topic, state FROM {table} LIMIT 1 "
            "ON CONFLICT (originator_id, originator_version) DO UPDATE SET state = ''"
        )
        assert f"{MESSAGE}: UPDATE refused" in refused(engine, upsert)
        assert f"{MESSAGE}: TRUNCATE refused" in refused(engine, f"TRUNCATE {table}")
    assert snapshot(desk) == before
    desk.ledger.close()


def test_init_twice_keeps_one_guard_and_init_restores_a_dropped_one(db_url: str) -> None:
    desk = desk_with_tickets(db_url)
    first = run_cli(db_url, "init")
    assert first.returncode == 0, first.stderr
    assert "events are append-only (database triggers)" in first.stdout
    assert run_cli(db_url, "init").returncode == 0
    assert guard_triggers(desk) == expected_triggers(desk)

    # A ledger from before the guard (or one whose owner dropped it) accepts edits ...
    drop_guard(desk)
    assert guard_triggers(desk) == []
    table = events_table(desk)
    with desk.ledger.engine.begin() as conn:
        assert conn.execute(text(f"UPDATE {table} SET topic = topic")).rowcount > 0
    # ... until `ledger init` runs again.
    again = run_cli(db_url, "init")
    assert again.returncode == 0, again.stderr
    assert "events are append-only" in again.stdout
    assert guard_triggers(desk) == expected_triggers(desk)
    refused(desk.ledger.engine, f"UPDATE {table} SET topic = topic")
    assert desk.report().number == "T-2026-000004"
    desk.ledger.close()


def test_rebuilding_projections_touches_only_the_read_models(db_url: str) -> None:
    desk = desk_with_tickets(db_url)
    assert events_table(desk) not in metadata.tables
    before = snapshot(desk)
    assert desk.ledger.projections.rebuild() > 0
    assert snapshot(desk) == before
    desk.ledger.close()


# --------------------------------------------------------------------------- PostgreSQL roles


@dataclass
class Roles:
    writer_url: str
    reader_url: str
    writer: str
    reader: str
    owner_url: str

    def owner_sql(self, statement: str) -> None:
        with psycopg.connect(self.owner_url, autocommit=True) as conn:
            conn.execute(statement.format(writer=self.writer, reader=self.reader).encode())


def documented_role_sql() -> str:
    blocks = re.findall(r"```sql\n(.*?)```", INTEGRITY_MD.read_text(), re.DOTALL)
    [block] = [b for b in blocks if "CREATE ROLE ledger_writer" in b]
    return str(block)


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


@pytest.fixture
def roles(pg_url: str) -> Iterator[Roles]:
    """A ledger initialised by the owner (``postgres``) and the documented writer and reader
    roles, created by running the SQL block of docs/integrity.md (names made unique)."""
    suffix = uuid.uuid4().hex[:8]
    writer, reader = f"ledger_writer_{suffix}", f"ledger_reader_{suffix}"
    dbname = urlsplit(pg_url).path.lstrip("/")
    script = (
        documented_role_sql()
        .replace("ledger_writer", writer)
        .replace("ledger_reader", reader)
        .replace("ON DATABASE ledger ", f'ON DATABASE "{dbname}" ')
    )
    password = uuid.uuid4().hex
    desk = desk_with_tickets(pg_url)
    desk.ledger.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(script.encode())
        for role in (writer, reader):
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
    yield Roles(
        _with_user(pg_url, writer, password),
        _with_user(pg_url, reader, password),
        writer,
        reader,
        pg_url,
    )
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for role in (writer, reader):
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_writer_role_appends_but_cannot_change_events(roles: Roles) -> None:
    # After the owner's tickets: recorded time never goes backwards.
    desk = open_desk(roles.writer_url, create=False, at=START + timedelta(hours=1))
    before = snapshot(desk)
    ticket = desk.report(device="报警主机")
    assert ticket.number == "T-2026-000004"
    assert desk.ledger.projections.catch_up() > 0  # the read models are the writer's to keep
    table, engine = events_table(desk), desk.ledger.engine
    assert "permission denied" in refused(engine, f"UPDATE {table} SET topic = topic")
    assert "permission denied" in refused(engine, f"DELETE FROM {table}")
    assert f"{MESSAGE}: TRUNCATE refused" in refused(engine, f"TRUNCATE {table}")
    for ddl in (
        f"DROP TRIGGER {PG_ROW_TRIGGER} ON {table}",
        f"ALTER TABLE {table} DISABLE TRIGGER {PG_ROW_TRIGGER}",
    ):
        assert "must be owner" in refused(engine, ddl)

    # Even holding UPDATE and DELETE on the table, the triggers refuse.
    roles.owner_sql("GRANT UPDATE, DELETE ON ledger_events TO {writer}")
    assert f"{MESSAGE}: UPDATE refused" in refused(engine, f"UPDATE {table} SET topic = topic")
    assert f"{MESSAGE}: DELETE refused" in refused(engine, f"DELETE FROM {table}")
    after = snapshot(desk)
    assert after[: len(before)] == before and len(after) == len(before) + 2
    desk.ledger.close()


def test_writer_with_only_insert_and_select_cannot_append(roles: Roles) -> None:
    """The finding behind the documented TRUNCATE grant: the library's recorder locks the
    table IN EXCLUSIVE MODE, which INSERT alone does not permit."""
    roles.owner_sql("REVOKE TRUNCATE ON ledger_events FROM {writer}")
    desk = open_desk(roles.writer_url, create=False)
    with pytest.raises(Exception, match="permission denied for table ledger_events"):
        desk.report()
    desk.ledger.close()


def test_reader_role_reads_but_cannot_insert(roles: Roles) -> None:
    desk = open_desk(roles.reader_url, create=False)
    count = desk.ledger.event_count()
    assert desk.ledger.tickets.get("T-2026-000001").device == "门禁控制器"
    table = events_table(desk)
    insert = (
        f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
        "VALUES (gen_random_uuid(), 1, 'forged', '')"
    )
    assert "permission denied for table ledger_events" in refused(desk.ledger.engine, insert)
    with pytest.raises(Exception, match="permission denied for table ledger_events"):
        desk.report()

    # `ticket list` catches the read models up first: it needs the writer to have done so.
    behind = run_cli(roles.reader_url, "ticket", "list", "--json")
    assert behind.returncode == 1
    assert "permission denied for table projection_positions" in behind.stderr
    with Ledger.open(roles.writer_url) as writer:
        writer.projections.catch_up()
    listed = run_cli(roles.reader_url, "ticket", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "T-2026-000003" in listed.stdout
    assert desk.ledger.event_count() == count
    desk.ledger.close()
