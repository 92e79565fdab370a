"""The hash chain: tamper evidence over the whole log, in its global order.

Every stored event gets a row in ``ledger_chain``: a gap-free ``position`` (1, 2, 3 …),
the event's ``notification_id`` and ``event_hash = SHA-256(prev_hash ‖ canonical bytes)``,
where ``prev_hash`` is the hash at ``position - 1`` (32 zero bytes before the first).
Because each hash covers its predecessor, rewriting, reordering, deleting one event or a
whole ticket, and truncating the log all break the chain somewhere an auditor can see.

This module holds what the chain's tables are and the rule the writes keep (recorded time
never goes backwards); the hash in :mod:`ledger.storage.hashing`, the writes in
:mod:`ledger.storage.recorders`, the raw reads in :mod:`ledger.storage.reads`.

The rows are written by our subclasses of the library's application recorders, inside
the transaction that inserts the events, after the insert has taken the writer's lock
(SQLite's single writer; PostgreSQL's ``LOCK TABLE … IN EXCLUSIVE MODE``): so positions
are assigned in commit order and never skip, even where PostgreSQL's own
``notification_id`` sequence does (a conflicting insert burns sequence numbers). The
chain position is therefore what the feed calls ``sequence``.

The canonical bytes do not depend on the database: the same log hashes the same on
SQLite and PostgreSQL.

The same recorders keep ``ledger_commands``: the idempotency key of each command
``ledger import`` applied (``command_id`` primary key, the chain ``position`` of its first
event, the ``record`` number it made or changed), written in the transaction of its events
when ``app.save(..., commands=[CommandKey, ...])`` passes them through the library's
``insert_events`` keywords. A re-run looks a key up by primary key instead of scanning the log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from eventsourcing.persistence import IntegrityError

CHAIN_TABLE = "ledger_chain"
COMMANDS_TABLE = "ledger_commands"


@dataclass(frozen=True)
class CommandKey:
    """A command's idempotency key, saved with its events: ``first_event`` indexes the
    events of the ``app.save`` that carries it; ``record`` is the number it made or changed."""

    command_id: str
    first_event: int
    record: str


@dataclass(frozen=True)
class RecordedCommand:
    """A key found in ``ledger_commands``: where its events start and the record's number."""

    position: int
    record: str


_TIMESTAMP_HEAD = b'{"timestamp":"'


def recorded_text(state: bytes | None) -> bytes | None:
    """The recorded time of a stored ledger event, as the ISO text its state starts with
    (every event's JSON starts with ``"timestamp"``, in UTC); ``None`` for any other state
    (compressed, encrypted, or not the ledger's)."""
    if state is None or not state.startswith(_TIMESTAMP_HEAD):
        return None
    end = state.find(b'"', len(_TIMESTAMP_HEAD))
    return None if end < 0 else bytes(state[len(_TIMESTAMP_HEAD) : end])


def recorded_time(text: bytes | None) -> datetime | None:
    """:func:`recorded_text` as an aware datetime (``None`` when absent or unreadable)."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text.decode())
    except (ValueError, UnicodeDecodeError):
        return None
    return at if at.tzinfo is not None else None


def earlier(text: bytes, than: bytes) -> bool:
    """Whether recorded time ``text`` is before ``than`` (both :func:`recorded_text`).
    Texts of one length compare as text (the same UTC ISO format); others are parsed."""
    if len(text) == len(than):
        return text < than
    at, before = recorded_time(text), recorded_time(than)
    return at is not None and before is not None and at < before


class RecordedTimeBackwards(IntegrityError):
    """An event would be recorded at a time before the event it follows in the chain: the
    write is refused (nothing is written). With the real clock a retry, planned afresh,
    gets a later time; with a fixed clock (a demo ledger) the clock must be moved on."""


def check_recorded_times(head_state: bytes | None, states: Sequence[bytes]) -> None:
    """Refuse (:class:`RecordedTimeBackwards`) new events whose recorded times, in chain
    order after the head's, would go backwards. States without a recorded time pass."""
    before = recorded_text(head_state)
    for state in states:
        at = recorded_text(state)
        if at is None:
            continue
        if before is not None and earlier(at, before):
            raise RecordedTimeBackwards(
                f"refused: recorded time {at.decode()} is before {before.decode()}, the "
                "recorded time of the last event in the log (recorded time never goes "
                "backwards; nothing was written)"
            )
        before = at
