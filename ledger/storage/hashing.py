"""The chain's hash: the canonical bytes of a stored event and the link that covers them
and its predecessor (``SHA-256(prev_hash ‖ canonical bytes)``; :mod:`ledger.storage.chain`).
The bytes do not depend on the database: the same log hashes the same on SQLite and
PostgreSQL. Changing anything here changes every hash: ``ledger verify`` would refuse
every existing ledger.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from typing import Any
from uuid import UUID

GENESIS = bytes(32)
"""The hash before the first link."""
_FORMAT = b"ledger-chain-v1"
_CANONICAL_ID = re.compile(r"[0-9a-f]{32}").fullmatch


def canonical_id(stored_id: Any) -> bool:
    """Whether a stored originator id is in the form the recorders write: a ``UUID``
    (PostgreSQL's uuid column) or SQLite's 32 lower-case hex digits. The library finds an
    aggregate's events by that exact text, while the hash covers the id's *value*, so any
    other spelling of the same UUID (upper case, hyphens) hides the events from every
    lookup without breaking a hash: ``ledger verify`` refuses it."""
    return isinstance(stored_id, UUID) or (
        type(stored_id) is str and _CANONICAL_ID(stored_id) is not None
    )


def canonical_bytes(
    position: int, originator_id: UUID | str, version: int, topic: str, state: bytes
) -> bytes:
    """The stored event as hashed: every field length-prefixed, ids as raw bytes."""
    if isinstance(originator_id, UUID):
        oid = b"U" + originator_id.bytes
    else:
        raw = originator_id.encode()
        oid = b"S" + struct.pack(">I", len(raw)) + raw
    topic_bytes = topic.encode()
    return b"".join(
        (
            _FORMAT,
            struct.pack(">Q", position),
            oid,
            struct.pack(">Q", version),
            struct.pack(">I", len(topic_bytes)),
            topic_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )


def link(prev_hash: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(prev_hash + canonical).digest()


_UUID_HEAD = struct.Struct(f">{len(_FORMAT)}sQc16sQ")
"""Format tag, position, ``U`` and a UUID's 16 bytes, version: the fixed-size head of the
canonical bytes of every event whose id is a UUID (all the ledger records)."""
_LENGTH = struct.Struct(">I")
_TOPIC_CACHE_SIZE = 4096


class LinkHasher:
    """:func:`canonical_bytes` and :func:`link` for rows as the driver returns them (a
    hex-text or ``UUID`` originator id), without parsing UUIDs or packing each field on its
    own: one precompiled struct for the head, each topic's length-prefixed bytes cached.
    The bytes are :func:`canonical_bytes`'s exactly (any id that is not a plain 32-digit hex
    text or ``UUID`` goes through it); the hash format is not changed here."""

    def __init__(self) -> None:
        self._topics: dict[str, bytes] = {}

    def canonical(
        self, position: int, stored_id: Any, version: int, topic: str, state: bytes
    ) -> bytes:
        if type(stored_id) is str and len(stored_id) == 32:
            try:
                raw = bytes.fromhex(stored_id)  # 16 bytes only when all 32 are hex digits
            except ValueError:
                raw = b""
        elif isinstance(stored_id, UUID):
            raw = stored_id.bytes
        else:
            raw = b""
        if len(raw) != 16:
            return canonical_bytes(position, as_uuid(stored_id), version, topic, state)
        tail = self._topics.get(topic)
        if tail is None:
            if len(self._topics) >= _TOPIC_CACHE_SIZE:
                self._topics.clear()
            encoded = topic.encode()
            tail = self._topics[topic] = _LENGTH.pack(len(encoded)) + encoded
        return (
            _UUID_HEAD.pack(_FORMAT, position, b"U", raw, version)
            + tail
            + _LENGTH.pack(len(state))
            + state
        )

    def link(
        self,
        prev_hash: bytes,
        position: int,
        stored_id: Any,
        version: int,
        topic: str,
        state: bytes,
    ) -> bytes:
        """The hash of the link at ``position`` after ``prev_hash``."""
        return hashlib.sha256(
            prev_hash + self.canonical(position, stored_id, version, topic, state)
        ).digest()


def as_uuid(value: Any) -> UUID | str:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except (TypeError, ValueError):
        return str(value)


def chain_rows(
    head: tuple[int, bytes] | None,
    events: Sequence[tuple[int, UUID | str, int, str, bytes]],
) -> list[tuple[int, int, bytes]]:
    """Chain ``(notification_id, originator_id, version, topic, state)`` rows (in
    notification order) after ``head`` = (position, hash) of the last link, if any."""
    position, prev = head if head is not None else (0, GENESIS)
    rows = []
    hasher = LinkHasher()  # the same bytes, without packing each field of a UUID's event
    for notification_id, originator_id, version, topic, state in events:
        position += 1
        if isinstance(originator_id, UUID):
            prev = hasher.link(prev, position, originator_id, version, topic, state)
        else:
            prev = link(prev, canonical_bytes(position, originator_id, version, topic, state))
        rows.append((position, notification_id, prev))
    return rows
