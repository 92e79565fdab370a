"""Digests: small signed checkpoints of the hash chain, kept outside the system.

A digest records the chain's head (``position`` and ``head_hash``) at one moment. An
auditor keeps it somewhere the ledger's owner cannot write (WORM storage, an e-mail, a
printout); ``ledger verify --digest FILE`` later proves the log still *extends* it: the
link at that position still has that hash. Whoever rewrites history and recomputes every
later hash still cannot reproduce a head hash taken before the rewrite.

The document (``ledger-digest-v1``) is JSON. When a key is configured it is signed with
Ed25519 over the canonical JSON of every field but ``signature`` (keys sorted, no
whitespace, UTF-8: RFC 8785 for these strings and integers); ``algorithm`` then reads
``ed25519`` and ``public_key`` is the raw 32-byte key in hex. An unsigned digest says
``"algorithm": "unsigned"`` and carries no key or signature.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from sqlalchemy import Engine, text

from ledger.storage.chain import CHAIN_TABLE
from ledger.storage.hashing import GENESIS

FORMAT = "ledger-digest-v1"
ED25519 = "ed25519"
UNSIGNED = "unsigned"
KEY_ENV = "LEDGER_DIGEST_KEY"
_FIELDS = (
    "format",
    "ledger",
    "position",
    "head_hash",
    "event_count",
    "created_at",
    "algorithm",
    "public_key",
    "signature",
)


class DigestError(ValueError):
    """A digest or key file that cannot be used: bad input, not a failed verification."""


@dataclass(frozen=True)
class Digest:
    """One checkpoint. ``source`` (where it was read from) is not part of the document."""

    ledger: str
    position: int
    head_hash: bytes
    event_count: int
    created_at: str  # UTC ISO 8601, kept verbatim: it is signed as written
    algorithm: str = UNSIGNED
    public_key: bytes | None = None
    signature: bytes | None = None
    format: str = FORMAT
    source: str = field(default="", compare=False)

    @property
    def signed(self) -> bool:
        return self.algorithm == ED25519

    @property
    def name(self) -> str:
        """How messages refer to this digest: its file, else its position."""
        return self.source or f"at position {self.position}"

    def body(self) -> dict[str, Any]:
        """Every field of the document except the signature: what is signed."""
        return {
            "format": self.format,
            "ledger": self.ledger,
            "position": self.position,
            "head_hash": self.head_hash.hex(),
            "event_count": self.event_count,
            "created_at": self.created_at,
            "algorithm": self.algorithm,
            "public_key": None if self.public_key is None else self.public_key.hex(),
        }

    def document(self) -> dict[str, Any]:
        """The JSON document, as written to a file."""
        signature = None if self.signature is None else self.signature.hex()
        return self.body() | {"signature": signature}

    def canonical_body(self) -> bytes:
        return json.dumps(
            self.body(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()

    def signature_valid(self) -> bool:
        """True when signed and the signature verifies with the embedded public key.
        Says nothing about *whose* key that is: compare ``public_key`` for that."""
        if not self.signed or self.public_key is None or self.signature is None:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                self.signature, self.canonical_body()
            )
        except (InvalidSignature, ValueError):
            return False
        return True


# --------------------------------------------------------------------------- taking one


def take_digest(
    engine: Engine,
    events_table: str,
    *,
    ledger: str,
    now: datetime,
    key: Ed25519PrivateKey | None = None,
) -> Digest:
    """The chain's head now, signed with ``key`` when given. Head and event count come
    from one statement, so they describe one snapshot even while others append."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                f"SELECT (SELECT count(*) FROM {events_table}), h.position, h.event_hash "
                f"FROM (SELECT 1 AS one) o LEFT JOIN (SELECT position, event_hash "
                f"FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1) h ON o.one = 1"
            )
        ).one()
    count, position, head_hash = row
    digest = Digest(
        ledger=ledger,
        position=0 if position is None else int(position),
        head_hash=GENESIS if head_hash is None else bytes(head_hash),
        event_count=int(count),
        created_at=now.astimezone(UTC).isoformat(timespec="seconds"),
    )
    return digest if key is None else sign(digest, key)


def sign(digest: Digest, key: Ed25519PrivateKey) -> Digest:
    public = raw_public_key(key.public_key())
    body = replace(digest, algorithm=ED25519, public_key=public, signature=None)
    return replace(body, signature=key.sign(body.canonical_body()))


def digest_json(digest: Digest) -> str:
    return json.dumps(digest.document(), indent=2, ensure_ascii=False) + "\n"


def write_digest(digest: Digest, path: Path) -> None:
    """Write the document to a new file; refuse to replace an existing one."""
    _write_new(path, digest_json(digest).encode(), 0o644)


# --------------------------------------------------------------------------- reading one


def load_digest(path: Path | str) -> Digest:
    """Read and check a digest file's shape (not its signature: see ``signature_valid``).
    Raises ``DigestError`` with a one-line reason for anything unusable."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DigestError(f"digest {source}: cannot read it ({e.strerror or e})") from None
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise DigestError(f"digest {source}: not JSON ({e})") from None
    return parse_digest(data, source)


def parse_digest(data: Any, source: str = "") -> Digest:
    name = f"digest {source}" if source else "digest"
    if not isinstance(data, Mapping):
        raise DigestError(f"{name}: not a JSON object")
    if data.get("format") != FORMAT:
        raise DigestError(f"{name}: not a ledger digest (format must be {FORMAT!r})")
    unknown = sorted(set(data) - set(_FIELDS))
    missing = [f for f in _FIELDS if f not in data]
    if unknown or missing:
        what = [f"missing {', '.join(missing)}"] if missing else []
        what += [f"unexpected {', '.join(unknown)}"] if unknown else []
        raise DigestError(f"{name}: {'; '.join(what)}")

    def integer(key: str) -> int:
        value = data[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DigestError(f"{name}: {key} must be a whole number >= 0")
        return value

    def hexbytes(key: str, size: int) -> bytes:
        value = data[key]
        try:
            decoded = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            decoded = b""
        if len(decoded) != size:
            raise DigestError(f"{name}: {key} must be {size} bytes in hex")
        return decoded

    ledger, created_at, algorithm = data["ledger"], data["created_at"], data["algorithm"]
    if not isinstance(ledger, str):
        raise DigestError(f"{name}: ledger must be a string")
    if not isinstance(created_at, str) or _utc(created_at) is None:
        raise DigestError(f"{name}: created_at must be an ISO 8601 time with its offset")
    public_key: bytes | None
    signature: bytes | None
    if algorithm == ED25519:
        public_key, signature = hexbytes("public_key", 32), hexbytes("signature", 64)
    elif algorithm == UNSIGNED:
        if data["public_key"] is not None or data["signature"] is not None:
            raise DigestError(f"{name}: an unsigned digest carries no public_key or signature")
        public_key = signature = None
    else:
        raise DigestError(f"{name}: algorithm must be {ED25519!r} or {UNSIGNED!r}")
    return Digest(
        ledger=ledger,
        position=integer("position"),
        head_hash=hexbytes("head_hash", 32),
        event_count=integer("event_count"),
        created_at=created_at,
        algorithm=algorithm,
        public_key=public_key,
        signature=signature,
        source=source,
    )


def _utc(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if parsed.tzinfo is None else parsed.astimezone(UTC)


# --------------------------------------------------------------------------- keys


def public_key_path(path: Path) -> Path:
    """Where the public key of the private key file ``path`` goes."""
    return path.with_name(path.name + ".pub")


def generate_key(path: Path, *, replace: bool = False) -> tuple[Path, Path, bytes]:
    """A new Ed25519 key: the private key (PKCS#8 PEM, mode 0600) at ``path``, the public
    key (PEM) at ``path.pub``. Refuses to replace either unless ``replace``; writes both or
    neither. Returns both paths and the raw public key."""
    public_path = public_key_path(path)
    for existing in (path, public_path):
        if existing.exists():
            if not replace:
                raise DigestError(f"{existing} already exists: not replacing a key")
            existing.unlink()
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write_new(path, private_pem, 0o600)
    try:
        _write_new(public_path, public_pem, 0o644)
    except BaseException:
        path.unlink()
        raise
    return path, public_path, raw_public_key(public)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DigestError(f"key {path}: cannot read it ({e.strerror or e})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise DigestError(f"key {path}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DigestError(f"key {path}: not an Ed25519 key (make one: ledger digest keygen)")
    return key


def load_public_key(path: Path) -> bytes:
    """The raw 32-byte Ed25519 key from a PEM public key file (as keygen writes it) or a
    file holding the key's 64 hex digits (as a digest's ``public_key``)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DigestError(f"public key {path}: cannot read it ({e.strerror or e})") from None
    stripped = data.strip()
    if len(stripped) == 64:
        try:
            return bytes.fromhex(stripped.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            pass
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise DigestError(
            f"public key {path}: neither a PEM public key nor 64 hex digits"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise DigestError(f"public key {path}: not an Ed25519 key")
    return raw_public_key(key)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    """The key's 32 raw bytes: how digests embed it and how it is shown (in hex)."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _write_new(path: Path, content: bytes, mode: int) -> None:
    """Create ``path`` with exactly ``mode`` (whatever the umask), failing if it exists;
    a partly written file is removed."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise DigestError(f"{path} already exists: not replacing it") from None
    except OSError as e:
        raise DigestError(f"cannot create {path}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
