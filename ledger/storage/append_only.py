"""The append-only guard: database triggers that refuse to change or remove a stored event.

``install_append_only`` runs at every ``ledger init`` (``Ledger(create=True)``) and is
idempotent, so running init again also upgrades a ledger created before the guard.

* SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers on ``stored_events`` abort the
  statement, and a ``BEFORE INSERT`` trigger refuses a row whose key (or explicit rowid)
  is already taken, so ``INSERT OR REPLACE`` cannot overwrite an event either (SQLite's
  REPLACE deletes the old row without firing delete triggers). A normal version conflict
  still surfaces as an integrity error, which the services turn into ``ConcurrentChange``.
* PostgreSQL: one trigger function, a ``BEFORE UPDATE OR DELETE`` row trigger and a
  ``BEFORE TRUNCATE`` statement trigger on ``ledger_events``, enabled ``ALWAYS`` so they
  fire in replica sessions too. The function and triggers are recreated at each init.

Only the table's owner (or a superuser) can drop or disable these triggers: they stop
every other role and every accident, not the owner. See docs/integrity.md.
"""

from __future__ import annotations

from sqlalchemy import Engine

MESSAGE = "ledger events are append-only"
# The library's default schema: we never set POSTGRES_SCHEMA.
PG_SCHEMA = "public"
PG_FUNCTION = "ledger_events_refuse_change"
PG_ROW_TRIGGER = "ledger_events_append_only"
PG_TRUNCATE_TRIGGER = "ledger_events_no_truncate"
SQLITE_TRIGGERS = ("ledger_events_no_update", "ledger_events_no_delete", "ledger_events_no_replace")


def _refuse(what: str) -> str:
    return f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {what}'); END"


def _sqlite_statements(table: str) -> list[str]:
    no_update, no_delete, no_replace = SQLITE_TRIGGERS
    return [
        f"CREATE TRIGGER IF NOT EXISTS {no_update} BEFORE UPDATE ON {table} "
        + _refuse("UPDATE refused"),
        f"CREATE TRIGGER IF NOT EXISTS {no_delete} BEFORE DELETE ON {table} "
        + _refuse("DELETE refused"),
        # NEW.rowid is -1 here unless the statement names a rowid, as REPLACE can.
        f"CREATE TRIGGER IF NOT EXISTS {no_replace} BEFORE INSERT ON {table} "
        f"WHEN EXISTS (SELECT 1 FROM {table} WHERE rowid = NEW.rowid) "
        f"OR EXISTS (SELECT 1 FROM {table} WHERE originator_id = NEW.originator_id "
        "AND originator_version = NEW.originator_version) "
        + _refuse("INSERT over a recorded event refused"),
    ]


def _postgres_statements(table: str) -> list[str]:
    qualified = f"{PG_SCHEMA}.{table}"
    function = f"{PG_SCHEMA}.{PG_FUNCTION}"
    statements = [
        # Serialise concurrent inits: CREATE OR REPLACE FUNCTION is not safe to race.
        f"LOCK TABLE {qualified} IN SHARE ROW EXCLUSIVE MODE",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION USING MESSAGE = '{MESSAGE}: ' || TG_OP || ' refused'; END $$",
    ]
    for name, events, each in (
        (PG_ROW_TRIGGER, "UPDATE OR DELETE", "ROW"),
        (PG_TRUNCATE_TRIGGER, "TRUNCATE", "STATEMENT"),
    ):
        statements += [
            f"DROP TRIGGER IF EXISTS {name} ON {qualified}",
            f"CREATE TRIGGER {name} BEFORE {events} ON {qualified} "
            f"FOR EACH {each} EXECUTE FUNCTION {function}()",
            f"ALTER TABLE {qualified} ENABLE ALWAYS TRIGGER {name}",
        ]
    return statements


def install_append_only(engine: Engine, table: str) -> None:
    """Install the guard on the events ``table``: on PostgreSQL (re)created in one
    transaction; on SQLite each missing trigger is created (``IF NOT EXISTS``)."""
    if engine.dialect.name == "sqlite":
        statements = _sqlite_statements(table)
    else:
        statements = _postgres_statements(table)
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
