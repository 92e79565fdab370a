"""Rows in bulk for the read models: keys in bounded ``IN (...)`` lists, many rows inserted
or updated with one compiled statement (``executemany``) — a projection's batch writes its
rows this way instead of one statement per row."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, Update, bindparam

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
    for params in shapes.values():
        conn.execute(update_by(table, column), params)


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows (all with the same columns) in one ``executemany``."""
    if rows:
        conn.execute(table.insert(), list(rows))
