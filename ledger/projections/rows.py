"""Rows in bulk for the read models: keys in bounded ``IN (...)`` lists, many rows inserted
or updated with one compiled statement (``executemany``) — a projection's batch writes its
rows this way instead of one statement per row.

The many rows go to the driver as they are, each value through its column type's own bind
processor (what SQLAlchemy would store), with the statement compiled once per table, shape
and dialect: SQLAlchemy's ``executemany`` of dictionaries builds every parameter set again
through the compiled statement's machinery, which cost a rebuild more than the database's
own insert (issue 18)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, Table, Update, bindparam
from sqlalchemy.sql.compiler import SQLCompiler

CHUNK = 500
"""Most keys bound into one ``IN (...)``: far below SQLite's and psycopg's limits."""

_T = TypeVar("_T")


def chunks(items: Iterable[_T]) -> Iterator[list[_T]]:
    """``items`` in lists of at most :data:`CHUNK`, for ``IN (...)`` queries."""
    batch = list(items)
    for i in range(0, len(batch), CHUNK):
        yield batch[i : i + CHUNK]


KEY = "_key"
"""The bound parameter :func:`update_by` matches rows with (not a column name, so it may sit
beside the column values in the same parameter set)."""

_updates: dict[tuple[str, str], Update] = {}


def update_by(table: Table, column: str) -> Update:
    """``UPDATE table ... WHERE column = :_key``, built once per table and key column.

    Executed with a list of parameter sets (``executemany``), each holding ``_key`` and the
    columns to set, it updates many rows with one compiled statement, instead of building
    and compiling a new ``.values(**row)`` statement for every row.
    """
    found = _updates.get((table.name, column))
    if found is None:
        found = _updates[(table.name, column)] = table.update().where(
            table.c[column] == bindparam(KEY)
        )
    return found


def update_rows(
    conn: Connection, table: Table, column: str, rows: Mapping[Any, dict[str, Any]]
) -> None:
    """Set each row's values on the row whose ``column`` is its key, in one ``executemany``
    per shape of row (the SET clause comes from the first parameter set's names)."""
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, values in rows.items():
        shapes.setdefault(tuple(values), []).append({**values, KEY: key})
    for names, params in shapes.items():
        statement = _statement(
            conn, ("update", table.name, column, names), update_by(table, column), (*names, KEY)
        )
        statement.execute(conn, params)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same columns) in one ``executemany``."""
    if rows:
        names = tuple(rows[0])
        _statement(conn, ("insert", table.name, names), table.insert(), names).execute(conn, rows)


class _Many:
    """A statement compiled once for a dialect, and how each of its parameters is bound."""

    def __init__(
        self, conn: Connection, statement: Insert | Update, names: tuple[str, ...]
    ) -> None:
        dialect = conn.dialect
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        assert isinstance(compiled, SQLCompiler)
        self.sql = compiled.string
        self.positional = dialect.positional
        self.copy: str | None = None
        if isinstance(statement, Insert) and dialect.name == "postgresql":
            table = statement.table
            self.copy = f"COPY {table} ({', '.join(names)}) FROM STDIN"
        self.order = tuple(compiled.positiontup or names)
        self.processors = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.order
        )

    def execute(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Run the statement once per row (each a dictionary with its names), in one
        ``executemany`` of the driver's own parameters."""
        pairs = tuple(zip(self.order, self.processors, strict=True))
        if self.copy is not None:
            import psycopg  # only a PostgreSQL statement has ``copy``

            driver = conn.connection.dbapi_connection
            assert isinstance(driver, psycopg.Connection)
            with driver.cursor() as cursor, cursor.copy(self.copy) as copy:
                for row in rows:
                    copy.write_row([row[n] if p is None else p(row[n]) for n, p in pairs])
        elif self.positional:
            conn.exec_driver_sql(
                self.sql,
                [tuple(row[n] if p is None else p(row[n]) for n, p in pairs) for row in rows],
            )
        else:
            conn.exec_driver_sql(
                self.sql,
                [{n: row[n] if p is None else p(row[n]) for n, p in pairs} for row in rows],
            )


_compiled: dict[tuple[Any, ...], _Many] = {}


def _statement(
    conn: Connection, key: tuple[Any, ...], statement: Insert | Update, names: tuple[str, ...]
) -> _Many:
    key = (*key, conn.dialect.name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = _Many(conn, statement, names)
    return found
