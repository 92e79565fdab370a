"""The ``Idempotency-Key`` header of the write API (IETF httpapi idempotency-key draft).

A key belongs to its user: it is kept as ``http:<n>:<user>:<key>`` in ``ledger_commands``,
the table ``ledger import`` keeps its lines' keys in, written by the recorders in the
transaction that inserts the command's events (:mod:`ledger.storage.chain`): a crash
cannot keep the events without the key or the key without the events, and keys survive
restarts. The row's ``record`` holds what the answer is rebuilt from (:class:`Recorded`):
the record and its version after the command, the status, the notes, and a fingerprint of
the request (method, path, body), so a replay answers the first answer again and a
different request under the same key is told apart (422).

While a request holds its key, another with the same key in the same server answers 409
(:class:`InFlight`); across servers the table's primary key settles it: the second save
fails and finds the first's key.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from ledger.storage.chain import CommandKey
from ledger.storage.recorders import recorded_commands

KEY_LENGTH = 200
PREFIX = "http:"


class BadIdempotencyKey(ValueError):
    """A malformed ``Idempotency-Key``."""


def parse_key(header: str | None) -> str | None:
    """The header's key: an sf-string (``"abc"``) or bare, 1 to 200 printable ASCII."""
    if header is None:
        return None
    text = header.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text or len(text) > KEY_LENGTH or any(not (32 <= ord(c) < 127) for c in text):
        raise BadIdempotencyKey(
            f"Idempotency-Key: 1 to {KEY_LENGTH} printable ASCII characters (got {header!r})"
        )
    return text


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request a key was first used for: method, path and body (a JSON body in
    canonical form, so key order and spacing do not count)."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        canonical = body
    digest = hashlib.sha256(f"{method.upper()} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def stored_key(user: str, key: str) -> str:
    """``http:<length of the name>:<user>:<key>``: the length keeps user ``a:b`` with key
    ``c`` apart from user ``a`` with key ``b:c``."""
    return f"{PREFIX}{len(user)}:{user}:{key}"


@dataclass(frozen=True)
class Recorded:
    """What a keyed write recorded, enough to answer it again."""

    fingerprint: str
    kind: str
    """``ticket``, ``visit``, ``action`` or ``complaint``."""
    record: str
    """The record's number."""
    version: int
    """The record's version after the command."""
    status: int
    notes: list[str] = field(default_factory=list)

    def dumps(self) -> str:
        return orjson.dumps(asdict(self)).decode()

    @classmethod
    def loads(cls, text: str) -> Recorded | None:
        """``None`` for a row that is not an HTTP write's (it cannot be: the prefix)."""
        try:
            data: dict[str, Any] = orjson.loads(text)
            return cls(**data)
        except (orjson.JSONDecodeError, TypeError):
            return None

    def key(self, command_id: str) -> CommandKey:
        """The row to save with the command's events (its first event's position)."""
        return CommandKey(command_id, 0, self.dumps())


def lookup(recorder: object, command_id: str) -> Recorded | None:
    found = recorded_commands(recorder, [command_id]).get(command_id)
    return None if found is None else Recorded.loads(found.record)


class InFlight:
    """The keys of the requests this server is answering now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: set[str] = set()

    @contextmanager
    def holding(self, command_id: str) -> Iterator[bool]:
        """Yields whether the key was free (and is now held until the block ends)."""
        with self._lock:
            free = command_id not in self._keys
            self._keys.add(command_id)
        try:
            yield free
        finally:
            if free:
                with self._lock:
                    self._keys.discard(command_id)
