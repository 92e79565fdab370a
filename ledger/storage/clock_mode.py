"""Which clock a ledger records time by (docs/integrity.md, "Recorded time").

A ledger records the real time. A demo or test ledger may be declared, when it is created
and still empty, to record the time of a fixed clock instead (``ledger init --fixed-clock``;
then, and only then, the CLI honours ``LEDGER_NOW``). The declaration is a row of
``ledger_clock``, on the read models' metadata so ``ledger init`` creates the table;
``ledger verify``, ``ledger report audit`` and the dossier say when a ledger has it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Engine, String, Table, func, insert, inspect, select
from sqlalchemy import table as sql_table

from ledger.storage.tables import metadata

FIXED = "fixed"

ledger_clock = Table(
    "ledger_clock",
    metadata,
    Column("clock", String(20), primary_key=True),
    Column("declared_at", DateTime(timezone=True), nullable=False),
)


class ClockModeRefused(RuntimeError):
    """A fixed clock asked of a ledger that already records the real time."""


def declare_fixed_clock(engine: Engine, events_table: str, at: datetime) -> None:
    """Declare the (empty) ledger a fixed-clock ledger; nothing to do if it is one."""
    with engine.begin() as conn:
        if conn.scalar(select(ledger_clock.c.clock)) == FIXED:
            return
        if conn.scalar(select(func.count()).select_from(sql_table(events_table))):
            raise ClockModeRefused(
                "this ledger records the real time and already holds events: a fixed clock "
                "is only for a new, empty ledger (`ledger init --fixed-clock`)"
            )
        conn.execute(insert(ledger_clock).values(clock=FIXED, declared_at=at))


def fixed_clock_since(engine: Engine) -> datetime | None:
    """When the ledger was declared a fixed-clock ledger; ``None``: it records real time."""
    if not inspect(engine).has_table(ledger_clock.name):
        return None  # a ledger from before the declaration existed
    with engine.connect() as conn:
        declared: datetime | None = conn.scalar(
            select(ledger_clock.c.declared_at).where(ledger_clock.c.clock == FIXED)
        )
    return declared
