"""The append-only guard: database triggers that refuse to change or remove a stored event.

``install_append_only`` runs at every ``ledger init`` (``Ledger(create=True)``) and is
idempotent, so running init again also upgrades a ledger created before the guard.

* SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers on ``stored_events`` abort the
  statement, and a ``BEFORE INSERT`` trigger refuses a row whose key (or explicit rowid)
  is already taken, so ``INSERT OR REPLACE`` cannot overwrite an event either (SQLite's
  REPLACE deletes the old row without firing delete triggers). A normal version conflict
  still surfaces as an integrity error, which the services turn into ``ConcurrentChange``.
The hash chain's table (``ledger_chain``) and the imported commands' keys
(``ledger_commands``) get the same guard.

* PostgreSQL: one trigger function, a ``BEFORE UPDATE OR DELETE`` row trigger and a
  ``BEFORE TRUNCATE`` statement trigger on ``ledger_events``, enabled ``ALWAYS`` so they
  fire in replica sessions too. The function and triggers are recreated at each init.

Only the table's owner (or a superuser) can drop or disable these triggers: they stop
every other role and every accident, not the owner. See docs/integrity.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from ledger.storage.chain import CHAIN_TABLE, COMMANDS_TABLE

MESSAGE = "ledger events are append-only"
# The library's default schema: we never set POSTGRES_SCHEMA.
PG_SCHEMA = "public"
PG_FUNCTION = "ledger_events_refuse_change"


@dataclass(frozen=True)
class Guarded:
    """A table under the guard: its trigger-name prefix and what identifies a row."""

    prefix: str
    unique_keys: tuple[tuple[str, ...], ...]

    @property
    def sqlite_triggers(self) -> tuple[str, str, str]:
        return (f"{self.prefix}_no_update", f"{self.prefix}_no_delete", f"{self.prefix}_no_replace")

    @property
    def pg_triggers(self) -> tuple[str, str]:
        return (f"{self.prefix}_append_only", f"{self.prefix}_no_truncate")


EVENTS = Guarded("ledger_events", (("originator_id", "originator_version"),))
CHAIN = Guarded("ledger_chain", (("notification_id",),))
COMMANDS = Guarded("ledger_commands", (("command_id",),))
SQLITE_TRIGGERS = EVENTS.sqlite_triggers
PG_ROW_TRIGGER, PG_TRUNCATE_TRIGGER = EVENTS.pg_triggers


def _refuse(what: str) -> str:
    return f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {what}'); END"


def _sqlite_statements(table: str, guarded: Guarded) -> list[str]:
    no_update, no_delete, no_replace = guarded.sqlite_triggers
    # NEW.rowid is -1 here unless the statement names a rowid, as REPLACE can.
    taken = [f"EXISTS (SELECT 1 FROM {table} WHERE rowid = NEW.rowid)"] + [
        f"EXISTS (SELECT 1 FROM {table} WHERE "
        + " AND ".join(f"{column} = NEW.{column}" for column in key)
        + ")"
        for key in guarded.unique_keys
    ]
    return [
        f"CREATE TRIGGER IF NOT EXISTS {no_update} BEFORE UPDATE ON {table} "
        + _refuse("UPDATE refused"),
        f"CREATE TRIGGER IF NOT EXISTS {no_delete} BEFORE DELETE ON {table} "
        + _refuse("DELETE refused"),
        f"CREATE TRIGGER IF NOT EXISTS {no_replace} BEFORE INSERT ON {table} "
        f"WHEN {' OR '.join(taken)} " + _refuse("INSERT over a recorded event refused"),
    ]


def _postgres_statements(table: str, guarded: Guarded) -> list[str]:
    qualified = f"{PG_SCHEMA}.{table}"
    function = f"{PG_SCHEMA}.{PG_FUNCTION}"
    statements = [
        # Serialise concurrent inits: CREATE OR REPLACE FUNCTION is not safe to race.
        f"LOCK TABLE {qualified} IN SHARE ROW EXCLUSIVE MODE",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' || TG_OP || ' refused'; END $$",
    ]
    row_trigger, truncate_trigger = guarded.pg_triggers
    for name, events, each in (
        (row_trigger, "UPDATE OR DELETE", "ROW"),
        (truncate_trigger, "TRUNCATE", "STATEMENT"),
    ):
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {qualified}",
            f"CREATE TRIGGER {name} BEFORE {events} ON {qualified} "
            f"FOR EACH {each} EXECUTE FUNCTION {function}()",
            f"ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER {name}",
        ]
    return statements


def install_append_only(engine: Engine, events_table: str) -> None:
    """Install the guard on the events table, the hash chain and the imported commands'
    keys: on PostgreSQL (re)created in one transaction; on SQLite each missing trigger is
    created."""
    build = _sqlite_statements if engine.dialect.name == "sqlite" else _postgres_statements
    with engine.begin() as conn:
        guarded_tables = ((events_table, EVENTS), (CHAIN_TABLE, CHAIN), (COMMANDS_TABLE, COMMANDS))
        for table, guarded in guarded_tables:
            for statement in build(table, guarded):
                conn.exec_driver_sql(statement)
