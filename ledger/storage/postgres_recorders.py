"""The ledger's PostgreSQL application recorders (:mod:`ledger.storage.recorders` says what
they add to the library's); a module of their own so that a SQLite ledger never imports
psycopg or ``eventsourcing.postgres``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.storage.api_users import UserRowWrite
from ledger.storage.chain import (
    CHAIN_TABLE,
    COMMANDS_TABLE,
    CommandKey,
    RecordedCommand,
    check_recorded_times,
)
from ledger.storage.hashing import chain_rows
from ledger.storage.recorders import USER_ROWS, _command_rows


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, plus the chain row of each inserted event."""

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name=events_table_name)
        if datastore.enable_db_functions:
            raise ValueError("the chained recorder does not support POSTGRES_ENABLE_DB_FUNCTIONS")
        schema = Identifier(datastore.schema)
        chain = Identifier(CHAIN_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} ("
                "position bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE, "
                "event_hash bytea NOT NULL)"
            ).format(schema=schema, chain=chain)
        )
        self._select_head = SQL(
            "SELECT position, event_hash FROM {schema}.{chain} ORDER BY position DESC LIMIT 1"
        ).format(schema=schema, chain=chain)
        self._select_head_state = SQL(
            "SELECT e.state FROM {schema}.{chain} c "
            "JOIN {schema}.{table} e ON e.notification_id = c.notification_id "
            "ORDER BY c.position DESC LIMIT 1"
        ).format(schema=schema, chain=chain, table=Identifier(self.events_table_name))
        self._select_position = SQL(
            "SELECT MAX(position) AS position FROM {schema}.{chain}"
        ).format(schema=schema, chain=chain)
        self._select_inserted = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM {schema}.{table} WHERE notification_id = ANY(%s) ORDER BY notification_id"
        ).format(schema=schema, table=Identifier(self.events_table_name))
        self._insert_links = SQL(
            "INSERT INTO {schema}.{chain} (position, notification_id, event_hash) "
            "SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bytea[])"
        ).format(schema=schema, chain=chain)
        commands = Identifier(COMMANDS_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{commands} ("
                "command_id text PRIMARY KEY, "
                "position bigint NOT NULL, "
                "record text NOT NULL)"
            ).format(schema=schema, commands=commands)
        )
        # RETURNING, fetched: a key recorded twice fails here, inside the pipeline's sync.
        self._insert_commands = SQL(
            "INSERT INTO {schema}.{commands} (command_id, position, record) "
            "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::text[]) RETURNING command_id"
        ).format(schema=schema, commands=commands)
        self._select_commands = SQL(
            "SELECT command_id, position, record FROM {schema}.{commands} "
            "WHERE command_id = ANY(%s)"
        ).format(schema=schema, commands=commands)

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Before the insert: take its table lock now (the insert takes it again, a no-op)
        and refuse events recorded before the head. Raised here, outside the library's
        catch around the insert, the error rolls the transaction back."""
        super()._insert_events(curs, stored_events, **kwargs)
        if not stored_events:
            return
        self._lock_table(curs)
        curs.execute(self._select_head_state)
        row = curs.fetchone()
        check_recorded_times(
            None if row is None else bytes(row["state"]), [s.state for s in stored_events]
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            links = self._append_links(curs, ids)
            commands: Sequence[CommandKey] = kwargs.get("commands", ())
            if commands:
                rows = _command_rows(commands, ids, links)
                curs.execute(
                    self._insert_commands,
                    ([c for c, _, _ in rows], [p for _, p, _ in rows], [r for _, _, r in rows]),
                )
                curs.fetchall()
        return ids

    def chain_position(self) -> int:
        """The position of the last link (0 for an empty log)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_position)
            row = curs.fetchone()
        return int(row["position"] or 0) if row else 0

    def select_commands(self, command_ids: Sequence[str]) -> dict[str, RecordedCommand]:
        """The recorded commands among ``command_ids`` (a primary-key lookup each)."""
        if not command_ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_commands, (list(command_ids),))
            rows: list[DictRow] = curs.fetchall()
        return {r["command_id"]: RecordedCommand(r["position"], r["record"]) for r in rows}

    def _append_links(self, curs: Any, ids: Sequence[int]) -> list[tuple[int, int, bytes]]:
        # Still inside the insert's transaction, under its exclusive table lock.
        curs.execute(self._select_inserted, (list(ids),))
        inserted: list[DictRow] = curs.fetchall()
        curs.execute(self._select_head)
        row = curs.fetchone()
        head = (row["position"], bytes(row["event_hash"])) if row else None
        rows = chain_rows(
            head,
            [
                (
                    r["notification_id"],
                    r["originator_id"],
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                for r in inserted
            ],
        )
        curs.execute(
            self._insert_links,
            ([p for p, _, _ in rows], [n for _, n, _ in rows], [h for _, _, h in rows]),
        )
        return rows


class LedgerPostgresRecorder(ChainedPostgresRecorder):
    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        writes: Sequence[UserRowWrite] = kwargs.get(USER_ROWS, ())
        for write in writes:
            write.apply(curs, "postgresql")
