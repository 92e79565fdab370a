"""The field cipher of crypto-shredding (docs/privacy.md): a personal field of an event's
JSON state encrypted under its data subject's key, and decrypted, or read as erased.

Apart from the key store (:mod:`ledger.storage.privacy`, over SQLAlchemy) so a reader that
does not open the ledger (:mod:`ledger.storage.quick_reader`, for ``ledger ticket show
--json``: issue 18) decrypts with this same code from keys it reads itself. ``cryptography``
is imported only when a field is encrypted or decrypted (``ledger --help`` and most reads
never pay for it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from pydantic import BaseModel

from ledger.domain.privacy import ERASED, PersonalField, personal_fields

PII = "$pii"
"""The key of an encrypted field's object in a stored state."""
PII_BYTES = b'{"$pii":'


class PrivacyKeyError(RuntimeError):
    """Personal fields cannot be read because keys are missing that were never erased."""


class KeyStoreMissing(PrivacyKeyError):
    READING = (
        "the privacy key store (table privacy_keys) is missing but the log holds "
        "encrypted personal fields: restore it from its backup (docs/privacy.md); "
        "nothing was erased"
    )


class SubjectKeyLost(PrivacyKeyError):
    def __init__(self, subject: str) -> None:
        super().__init__(
            f"the key of data subject {subject} is missing from the privacy key store "
            "although the subject was never erased: restore the key store from its "
            "backup (docs/privacy.md)"
        )


class SubjectKeys(Protocol):
    """Where the cipher gets keys: the ledger's :class:`~ledger.storage.privacy.KeyStore`,
    or a read-only reader of the same table."""

    def key(self, subject: str) -> bytes | None:
        """The subject's key; ``None`` once erased; raises :class:`KeyStoreMissing` or
        :class:`SubjectKeyLost` when it is missing although never erased."""

    def subject_id(self, identity: str) -> str: ...

    def require_for_writing(self) -> bool: ...

    def ensure_keys(self, subjects: Iterable[str]) -> None: ...


class FieldCipher:
    """Encrypts and decrypts the personal fields of an event's JSON state, in place."""

    def __init__(self, keys: SubjectKeys) -> None:
        self.keys = keys
        self._ciphers: dict[bytes, Any] = {}

    def _cipher(self, key: bytes) -> Any:
        """The AES-GCM object of a key, made once (its key schedule is most of a short
        field's cost)."""
        cipher = self._ciphers.get(key)
        if cipher is None:
            if len(self._ciphers) > 10_000:
                self._ciphers.clear()
            cipher = self._ciphers[key] = _aesgcm()(key)
        return cipher

    def enabled(self) -> bool:
        return self.keys.require_for_writing()

    def subjects(self, cls: type[Any], state: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(field name, subject id) of each personal field with a value in a plain state."""
        for field in personal_fields(cls):
            parent = _parent(state, field)
            if parent is None:
                continue
            value = parent.get(field.path[-1])
            if isinstance(value, str):
                yield field.name, self.keys.subject_id(field.personal.identity(value, parent))

    def prepare(self, events: Iterable[Any]) -> None:
        """Create the keys of every new subject the events name, in one transaction (an
        import batch of many new contacts pays for one commit, not one each)."""
        if not self.enabled():
            return
        subjects = [
            subject
            for event in events
            if personal_fields(type(event))
            for _, subject in self.subjects(type(event), vars(event))
        ]
        if subjects:
            self.keys.ensure_keys(subjects)

    def encrypt(self, cls: type[Any], state: dict[str, Any]) -> None:
        found = list(self.subjects(cls, state))
        if not found:
            return
        self.keys.ensure_keys(subject for _, subject in found)
        fields = {f.name: f for f in personal_fields(cls)}
        for name, subject in found:
            field = fields[name]
            parent = _parent(state, field)
            assert parent is not None
            key = self.keys.key(subject)
            assert key is not None, f"a new event for erased subject {subject}"
            plaintext = parent[field.path[-1]].encode()
            aad = f"{subject}|{name}".encode()
            nonce = hmac.new(key, aad + b"\0" + plaintext, hashlib.sha256).digest()[:12]
            sealed = nonce + self._cipher(key).encrypt(nonce, plaintext, aad)
            parent[field.path[-1]] = {PII: subject, "c": base64.b64encode(sealed).decode()}

    def decrypt(self, cls: type[Any], state: dict[str, Any]) -> None:
        for field in personal_fields(cls):
            parent = _parent(state, field)
            if parent is None:
                continue
            sealed = parent.get(field.path[-1])
            if isinstance(sealed, dict) and PII in sealed:
                parent[field.path[-1]] = self._open(str(sealed[PII]), field.name, sealed["c"])

    def _open(self, subject: str, name: str, text: str) -> str:
        key = self.keys.key(subject)
        if key is None:
            return ERASED
        from cryptography.exceptions import InvalidTag

        raw = base64.b64decode(text)
        try:
            plain: bytes = self._cipher(key).decrypt(
                raw[:12], raw[12:], f"{subject}|{name}".encode()
            )
        except InvalidTag as e:
            raise PrivacyKeyError(
                f"the personal field {name} of subject {subject} does not decrypt with its "
                "key: the key store does not belong to this log (restored from another "
                "ledger?)"
            ) from e
        return plain.decode()


def sealed_subjects(state: dict[str, Any], fields: Iterable[PersonalField]) -> Iterator[str]:
    """The subject ids an encrypted stored state names (no key needed)."""
    for field in fields:
        parent = _parent(state, field)
        sealed = parent.get(field.path[-1]) if parent is not None else None
        if isinstance(sealed, dict) and PII in sealed:
            yield str(sealed[PII])


def _parent(state: dict[str, Any], field: PersonalField) -> dict[str, Any] | None:
    node: Any = state
    for part in field.path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, BaseModel):  # an event's own values (``vars(event)``)
            node = vars(node)
    return node if isinstance(node, dict) else None


def _aesgcm() -> Any:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM
