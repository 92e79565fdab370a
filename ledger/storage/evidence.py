"""The evidence store: a content-addressed home for the bytes of evidence files.

A file lives under its SHA-256, ``sha256/ab/<64 hex digits>`` (``ab``: the first two
digits), so the same bytes are stored once and a name can never point to other bytes
without the hash saying so. The log records only the hash (``domain/evidence.py``);
``ledger verify`` re-hashes each file the chain names.

Two stores, one contract (:class:`EvidenceStore`):

* :class:`LocalEvidenceStore`, a folder: a file is written to a temporary file in its
  final folder, fsynced, renamed into place and the folder fsynced, so a crash leaves
  either no file or the whole file (a stray temporary file at most).
* :class:`S3EvidenceStore`, S3-compatible object storage (boto3, imported only when used;
  ``endpoint_url`` for MinIO, Ceph, a cloud's S3): the ledger hashes the bytes itself on
  put and on every read, never trusting the server's checksum or ETag.

Before anything is stored the bytes are checked: at most ``max_bytes``, and a media type
**sniffed from the bytes** (magic numbers, never the name) from the allow-list. Where the
store lives is :class:`EvidenceSettings` (docs/evidence.md).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger.storage.location import Location

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
"""20 MiB: a scanned form, a phone photo; configurable (``LEDGER_EVIDENCE_MAX_BYTES``)."""
SETTING_ENV = "LEDGER_EVIDENCE"
MAX_BYTES_ENV = "LEDGER_EVIDENCE_MAX_BYTES"
CHUNK = 1024 * 1024
_HEX = re.compile(r"\A[0-9a-f]{64}\Z")

ALLOWED_MEDIA_TYPES: dict[str, str] = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "application/pdf": "PDF",
    "image/tiff": "TIFF (fax)",
    "image/webp": "WebP",
    "image/heic": "HEIC",
    "text/plain; charset=utf-8": "plain text (UTF-8)",
}
"""What may be attached: media type → the name a message gives it."""

_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis"})
_TEXT_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class EvidenceError(Exception):
    """Base of what the evidence store refuses or fails at."""


class EvidenceRefused(EvidenceError, ValueError):
    """The file is not acceptable (bad input): nothing was stored."""


class TooLarge(EvidenceRefused):
    """Over the size limit (HTTP 413)."""


class UnsupportedMediaType(EvidenceRefused):
    """The bytes are of no allowed type (HTTP 415)."""


class EvidenceNotConfigured(EvidenceError, ValueError):
    """No store is configured (a PostgreSQL ledger needs ``LEDGER_EVIDENCE``), or the
    setting cannot be read."""


class EvidenceMissing(EvidenceError, LookupError):
    """The store holds no file under the hash."""


class EvidenceChanged(EvidenceError):
    """The store's bytes under the hash hash to something else: changed or swapped."""


class EvidenceUnavailable(EvidenceError):
    """The store cannot be reached or written (a failure, not bad input)."""


# --------------------------------------------------------------------------- checking bytes


def sniff(data: bytes) -> str | None:
    """The allowed media type the bytes are, by their magic numbers; ``None``: none."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "image/tiff"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _HEIC_BRANDS:
        return "image/heic"
    if _is_text(data):
        return "text/plain; charset=utf-8"
    return None


def _is_text(data: bytes) -> bool:
    if not data or _TEXT_CONTROLS.search(data):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def allowed_types_text() -> str:
    return ", ".join(ALLOWED_MEDIA_TYPES.values())


@dataclass(frozen=True)
class StoredFile:
    """What the store found of a file it holds: its hash, size and sniffed media type."""

    sha256: str
    size: int
    media_type: str


class FileState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    CHANGED = "changed"


@dataclass(frozen=True)
class FileCheck:
    """A file re-hashed: ``actual`` is what its bytes hash to now (``None``: missing)."""

    state: FileState
    actual: str | None = None


def evidence_key(sha256: str) -> str:
    """``sha256/ab/abcdef…``: where a file lives, in a folder or a bucket."""
    if not _HEX.match(sha256):
        raise EvidenceRefused(f"{sha256!r} is not a SHA-256 (64 lower-case hex digits)")
    return f"sha256/{sha256[:2]}/{sha256}"


class EvidenceStore:
    """The contract both stores keep: :meth:`put` checks and stores bytes once,
    :meth:`get` returns them (re-hashed), :meth:`check` re-hashes without returning them."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes

    def describe(self) -> str:
        raise NotImplementedError

    def accept(self, data: bytes, name: str = "the file") -> StoredFile:
        """What :meth:`put` would store, or why not (``TooLarge``, ``UnsupportedMediaType``)."""
        if len(data) > self.max_bytes:
            raise TooLarge(
                f"{name} is {len(data)} bytes: over the evidence limit of {self.max_bytes} "
                f"bytes ({self.max_bytes / 1024 / 1024:g} MiB)"
            )
        if not data:
            raise UnsupportedMediaType(f"{name} is empty")
        media_type = sniff(data)
        if media_type is None:
            raise UnsupportedMediaType(
                f"{name} is of no allowed type: its bytes are none of {allowed_types_text()} "
                f"(the type is read from the bytes, not the name; first bytes {data[:8].hex()})"
            )
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data), media_type)

    def put(self, data: bytes, name: str = "the file") -> StoredFile:
        """Check the bytes and store them under their hash (once: the same bytes already
        stored intact are not written again; damaged ones are replaced)."""
        stored = self.accept(data, name)
        if self.check(stored.sha256).state is not FileState.OK:
            self._write(evidence_key(stored.sha256), data)
        return stored

    def get(self, sha256: str) -> bytes:
        """The bytes stored under ``sha256``, re-hashed (``EvidenceMissing``,
        ``EvidenceChanged``)."""
        data = self._read(evidence_key(sha256))
        if data is None:
            raise EvidenceMissing(f"no file {sha256} in the evidence store {self.describe()}")
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise EvidenceChanged(
                f"the evidence file {sha256} has changed: its bytes hash to {actual}"
            )
        return data

    def check(self, sha256: str) -> FileCheck:
        """Re-hash the file stored under ``sha256`` (streamed: no file is held whole)."""
        digest = hashlib.sha256()
        chunks = self._chunks(evidence_key(sha256))
        if chunks is None:
            return FileCheck(FileState.MISSING)
        for chunk in chunks:
            digest.update(chunk)
        actual = digest.hexdigest()
        return FileCheck(FileState.OK if actual == sha256 else FileState.CHANGED, actual)

    def delete(self, sha256: str) -> bool:
        """Delete the file (a data subject's erasure, docs/privacy.md); ``False``: it was
        not there. The only deletion the store knows: evidence is otherwise kept."""
        return self._delete(evidence_key(sha256))

    # What a store implements.
    def _write(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def _delete(self, key: str) -> bool:
        raise NotImplementedError

    def _read(self, key: str) -> bytes | None:
        chunks = self._chunks(key)
        return None if chunks is None else b"".join(chunks)

    def _chunks(self, key: str) -> Iterator[bytes] | None:
        raise NotImplementedError


# --------------------------------------------------------------------------- a folder


class LocalEvidenceStore(EvidenceStore):
    """Files in a folder: ``<root>/sha256/ab/<hex>``, read-only once written."""

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__(max_bytes)
        self.root = root

    def describe(self) -> str:
        return str(self.root)

    def path_of(self, sha256: str) -> Path:
        return self.root / evidence_key(sha256)

    def _write(self, key: str, data: bytes) -> None:
        final = self.root / key
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            temporary = final.parent / f".tmp-{secrets.token_hex(8)}"
            try:
                with temporary.open("xb") as file:
                    file.write(data)
                    file.flush()
                    os.fsync(file.fileno())
                temporary.chmod(0o444)
                os.replace(temporary, final)
            finally:
                temporary.unlink(missing_ok=True)
            _fsync_directory(final.parent)
        except OSError as e:
            raise EvidenceUnavailable(
                f"cannot write to the evidence store {self.root}: {e.strerror or e}"
            ) from None

    def _delete(self, key: str) -> bool:
        path = self.root / key
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as e:
            raise EvidenceUnavailable(f"cannot delete {path}: {e.strerror or e}") from None
        _fsync_directory(path.parent)
        return True

    def _chunks(self, key: str) -> Iterator[bytes] | None:
        path = self.root / key
        try:
            file = path.open("rb")
        except FileNotFoundError:
            return None
        except OSError as e:
            raise EvidenceUnavailable(f"cannot read {path}: {e.strerror or e}") from None
        return _read_chunks(file)


def _read_chunks(file: Any) -> Iterator[bytes]:
    with file:
        while chunk := file.read(CHUNK):
            yield chunk


def _fsync_directory(path: Path) -> None:
    """Make a rename durable: fsync the folder that holds the new name."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


# --------------------------------------------------------------------------- S3


class S3EvidenceStore(EvidenceStore):
    """Objects in an S3-compatible bucket, keyed ``[prefix/]sha256/ab/<hex>``. Credentials
    and region come from boto3's usual chain (``AWS_ACCESS_KEY_ID``, ``~/.aws``, ...)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        super().__init__(max_bytes)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region
        self._client: Any = None

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return where if self.endpoint_url is None else f"{where} at {self.endpoint_url}"

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise EvidenceNotConfigured(
                    "an s3:// evidence store needs boto3: pip install 'ledger[s3]'"
                ) from None
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region
            )
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _write(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)
        except Exception as e:
            raise EvidenceUnavailable(f"cannot write to {self.describe()}: {_why(e)}") from None

    def _delete(self, key: str) -> bool:
        if self._chunks(key) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as e:
            raise EvidenceUnavailable(f"cannot delete from {self.describe()}: {_why(e)}") from None
        return True

    def _chunks(self, key: str) -> Iterator[bytes] | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as e:
            if _status(e) == 404 or _code(e) in {"NoSuchKey", "404", "NotFound"}:
                return None
            raise EvidenceUnavailable(f"cannot read {self.describe()}: {_why(e)}") from None
        return _stream(answer["Body"])


def _stream(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK)
    finally:
        body.close()


def _status(error: Exception) -> int | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    return None


def _code(error: Exception) -> str | None:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code is not None else None
    return None


def _why(error: Exception) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


# --------------------------------------------------------------------------- where it lives


@dataclass(frozen=True)
class EvidenceSettings:
    """Where the store is (``setting``: a folder, or ``s3://bucket/prefix`` with optional
    ``?endpoint_url=...&region=...``; ``None``: the default) and its size limit."""

    setting: str | None = None
    max_bytes: int = DEFAULT_MAX_BYTES

    @classmethod
    def from_env(cls, setting: str | None = None, max_bytes: str | None = None) -> EvidenceSettings:
        """The given values, else ``LEDGER_EVIDENCE`` / ``LEDGER_EVIDENCE_MAX_BYTES``."""
        text = max_bytes if max_bytes is not None else os.environ.get(MAX_BYTES_ENV)
        limit = DEFAULT_MAX_BYTES
        if text:
            try:
                limit = int(text)
            except ValueError:
                limit = 0
            if limit < 1:
                raise EvidenceNotConfigured(
                    f"{MAX_BYTES_ENV}: {text!r} is not a size in bytes (a positive integer)"
                )
        return cls(setting or os.environ.get(SETTING_ENV) or None, limit)

    def open(self, location: Location) -> EvidenceStore:
        """The store for the ledger at ``location``. Default: for SQLite, the folder
        ``<database file>.evidence`` beside it; PostgreSQL has no file to sit beside, so it
        needs a setting."""
        if self.setting is None:
            if location.kind == "sqlite" and location.path is not None:
                folder = location.path.with_name(location.path.name + ".evidence")
                return LocalEvidenceStore(folder, self.max_bytes)
            raise EvidenceNotConfigured(
                f"no evidence store configured for {location.describe()}: set "
                f"{SETTING_ENV} (or --evidence) to a folder or s3://bucket/prefix"
            )
        return open_setting(self.setting, self.max_bytes)


def open_setting(setting: str, max_bytes: int = DEFAULT_MAX_BYTES) -> EvidenceStore:
    """A folder path, or ``s3://bucket[/prefix][?endpoint_url=URL&region=NAME]``."""
    text = setting.strip()
    if not text.startswith("s3://"):
        if "://" in text:
            raise EvidenceNotConfigured(
                f"evidence store {setting!r}: a folder or s3://bucket/prefix, nothing else"
            )
        return LocalEvidenceStore(Path(text).expanduser(), max_bytes)
    parts = urlsplit(text)
    if not parts.netloc:
        raise EvidenceNotConfigured(f"evidence store {setting!r}: no bucket (s3://BUCKET/...)")
    query = parse_qs(parts.query)
    unknown = set(query) - {"endpoint_url", "region"}
    if unknown:
        raise EvidenceNotConfigured(
            f"evidence store {setting!r}: unknown option {sorted(unknown)[0]!r} "
            "(endpoint_url, region)"
        )
    return S3EvidenceStore(
        parts.netloc,
        parts.path,
        endpoint_url=query.get("endpoint_url", [None])[0],
        region=query.get("region", [None])[0],
        max_bytes=max_bytes,
    )


def served_store(state: Any, location: Location) -> EvidenceStore:
    """The evidence store of a served app: the settings ``ledger serve`` put on its
    ``state`` (``evidence_settings``), else the environment's; opened once and kept on
    ``state`` (``evidence_store``) for the API's files and the dashboard's dossier alike.
    ``EvidenceNotConfigured`` when there is none."""
    store: EvidenceStore | None = getattr(state, "evidence_store", None)
    if store is None:
        settings = getattr(state, "evidence_settings", None)
        store = (settings or EvidenceSettings.from_env()).open(location)
        state.evidence_store = store
    return store
