"""Crypto-shredding of personal fields (docs/privacy.md): the key store; the field cipher
the storage mapper calls is :mod:`ledger.storage.field_cipher` (no SQLAlchemy there).

Each data subject (``ledger/domain/privacy.py``) has its own AES-256-GCM key in the
``privacy_keys`` table, apart from the events. A personal field is stored in the event's
state as ``{"$pii": SUBJECT, "c": base64(nonce ‖ ciphertext)}`` with the associated data
``SUBJECT|FIELD`` (a ciphertext cannot be moved to another subject or field). The hash
chain covers these bytes, so ``ledger verify`` needs no key and passes after an erasure,
which destroys the key (the row stays, its key gone, as the tombstone that tells *erased*
from *lost*).

The nonce is synthetic: the first 96 bits of HMAC-SHA256(key, associated data ‖ plaintext).
The same field of the same subject with the same value encrypts to the same bytes (which
reveals only what the subject id already does), and a nonce is never reused for two
plaintexts under one key. So a command recorded twice on a fixed-clock ledger gives the same
bytes; on such a (demo or test) ledger the keys and the identity secret are derived from a
constant as well, so two fixed-clock ledgers fed the same commands hold the same events.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    LargeBinary,
    String,
    Table,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger.clock import Clock
from ledger.storage.field_cipher import (
    PII,
    PII_BYTES,
    FieldCipher,
    KeyStoreMissing,
    PrivacyKeyError,
    SubjectKeyLost,
    sealed_subjects,
)
from ledger.storage.tables import metadata

__all__ = [  # the cipher's names, where the key store's users have always found them
    "PII",
    "PII_BYTES",
    "FieldCipher",
    "KeyStore",
    "KeyStoreMissing",
    "PrivacyKeyError",
    "SubjectKeyLost",
    "privacy_keys",
    "sealed_subjects",
]

IDENTITY_ROW = "~identity"
"""The row holding the secret that turns an identity into a subject id."""
CACHE_SECONDS = 2.0
"""How long a process trusts the keys it read: an erasure by another process (the CLI while
``ledger serve`` runs) shows within this time."""
WHOLE_STORE_ROWS = 200_000
"""Up to this many subjects, a key missed in the cache reloads the whole store."""
_FIXED_SEED = b"ledger fixed-clock demo keys: never for real personal data"

privacy_keys = Table(
    "privacy_keys",
    metadata,
    Column("subject_id", String(40), primary_key=True),
    Column("key", LargeBinary(32)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True)),
)
"""One row per data subject: its key, or, once erased, no key and when it was destroyed."""


class KeyStore:
    """The ``privacy_keys`` table, with a short-lived in-process cache."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        events_table: str = "stored_events",
        deterministic: bool = False,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.events_table = events_table
        self.deterministic = deterministic
        self._present: bool | None = None
        self._log_sealed: bool | None = None
        self._rows: int | None = None
        self._subject_ids: dict[str, str] = {}
        self._keys: dict[str, bytes | None] = {}
        self._identity_secret: bytes | None = None
        self._loaded = time.monotonic()

    # ------------------------------------------------------------------ presence

    def present(self) -> bool:
        """Whether the table exists (a ledger initialised before privacy has none: it keeps
        writing plaintext until ``ledger init`` upgrades it)."""
        if self._present is None:
            self._present = inspect(self.engine).has_table(privacy_keys.name)
        return self._present

    def require_for_writing(self) -> bool:
        """Whether new personal fields are encrypted: the key store is there. Without it
        (a ledger made before privacy) they are written in plaintext, unless the log already
        holds encrypted fields: then the key store was lost, and writing is refused rather
        than silently storing plaintext or keys that no backup has."""
        if self.present():
            return True
        if self._log_sealed is None:
            self._log_sealed = _log_holds_sealed(self.engine, self.events_table)
        if self._log_sealed:
            raise KeyStoreMissing(
                "the privacy key store (table privacy_keys) is missing but the log holds "
                "encrypted personal fields: restore it from its backup (docs/privacy.md) "
                "before recording anything"
            )
        return False

    def _fresh(self) -> None:
        if time.monotonic() - self._loaded > CACHE_SECONDS:
            self._keys.clear()
            self._loaded = time.monotonic()

    # ------------------------------------------------------------------ subjects

    def subject_id(self, identity: str) -> str:
        """The opaque id of the subject ``identity`` names (``phone:138...``)."""
        known = self._subject_ids.get(identity)
        if known is None:
            if len(self._subject_ids) > 100_000:
                self._subject_ids.clear()
            digest = hmac.new(self._secret(), identity.encode(), hashlib.sha256).hexdigest()
            known = self._subject_ids[identity] = "s-" + digest[:24]
        return known

    def _secret(self) -> bytes:
        if self._identity_secret is None:
            self._identity_secret = self._ensure(
                [IDENTITY_ROW], lambda _: self._new_key(IDENTITY_ROW)
            )[IDENTITY_ROW]
        return self._identity_secret

    def _new_key(self, subject: str) -> bytes:
        if self.deterministic:
            return hmac.new(_FIXED_SEED, subject.encode(), hashlib.sha256).digest()
        return os.urandom(32)

    def ensure_keys(self, subjects: Iterable[str]) -> None:
        """Every subject has a key (new ones created in one transaction)."""
        self._fresh()
        missing = [s for s in dict.fromkeys(subjects) if s not in self._keys]
        if missing:
            self._keys.update(self._ensure(missing, self._new_key))

    def _ensure(self, subjects: list[str], new_key: Any) -> dict[str, bytes]:
        found = self._read(subjects)
        absent = [s for s in subjects if s not in found]
        if absent:
            now = self.clock.now()
            with self.engine.begin() as conn:
                for subject in absent:
                    try:
                        with conn.begin_nested():
                            conn.execute(
                                privacy_keys.insert().values(
                                    subject_id=subject, key=new_key(subject), created_at=now
                                )
                            )
                    except IntegrityError:
                        pass  # another writer created it first: theirs is read below
            found.update(self._read(absent))
        return found  # type: ignore[return-value]

    def _read(self, subjects: list[str]) -> dict[str, bytes | None]:
        found: dict[str, bytes | None] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(subjects), 500):
                chunk = subjects[start : start + 500]
                for subject, key in conn.execute(
                    select(privacy_keys.c.subject_id, privacy_keys.c.key).where(
                        privacy_keys.c.subject_id.in_(chunk)
                    )
                ):
                    found[subject] = bytes(key) if key is not None else None
        return found

    def key(self, subject: str) -> bytes | None:
        """The subject's key; ``None`` once erased. Raises when the key or the whole store
        is missing although never erased."""
        self._fresh()
        if subject in self._keys:
            return self._keys[subject]
        if not self.present():
            raise KeyStoreMissing(KeyStoreMissing.READING)
        found = self._read_all() if self._whole else self._read([subject])
        if subject not in found:
            raise SubjectKeyLost(subject)
        self._keys[subject] = found[subject]
        return found[subject]

    @property
    def _whole(self) -> bool:
        """Read every key at once on a miss (a read of the log needs most of them: one query
        instead of one per subject) while the store is of a size to hold in memory."""
        return self._size() <= WHOLE_STORE_ROWS

    def _size(self) -> int:
        if self._rows is None:
            with self.engine.connect() as conn:
                self._rows = conn.scalar(select(func.count()).select_from(privacy_keys)) or 0
        return self._rows

    def _read_all(self) -> dict[str, bytes | None]:
        with self.engine.connect() as conn:
            found = {
                subject: bytes(key) if key is not None else None
                for subject, key in conn.execute(
                    select(privacy_keys.c.subject_id, privacy_keys.c.key)
                )
            }
        self._keys.update(found)
        self._rows = len(found)
        return found

    def destroy(self, subject: str, at: datetime) -> bool:
        """Destroy the subject's key, leaving the tombstone; ``False``: already destroyed."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(privacy_keys)
                .where(privacy_keys.c.subject_id == subject, privacy_keys.c.key.is_not(None))
                .values(key=None, erased_at=at)
            )
            if (
                result.rowcount == 0
                and conn.scalar(
                    select(privacy_keys.c.subject_id).where(privacy_keys.c.subject_id == subject)
                )
                is None
            ):
                # a subject never keyed (its events are plaintext): the tombstone alone
                conn.execute(
                    privacy_keys.insert().values(
                        subject_id=subject, key=None, created_at=at, erased_at=at
                    )
                )
                destroyed = True
            else:
                destroyed = result.rowcount > 0
        self._keys[subject] = None
        return destroyed

    def state(self, subject: str) -> str:
        """``active``, ``erased`` or ``unknown`` (no row)."""
        if not self.present():
            return "unknown"
        found = self._read([subject])
        if subject not in found:
            return "unknown"
        return "erased" if found[subject] is None else "active"


def _log_holds_sealed(engine: Engine, events_table: str) -> bool:
    """Whether any stored event holds an encrypted field (one scan, only when the key store
    is missing)."""
    find = (
        "instr(state, :mark) > 0"
        if engine.dialect.name == "sqlite"
        else "position(:mark in state) > 0"
    )
    with engine.connect() as conn:
        found = conn.execute(
            text(f"SELECT 1 FROM {events_table} WHERE {find} LIMIT 1"), {"mark": PII_BYTES}
        ).first()
    return found is not None
