"""The evidence stores the tests run against: a local folder, and S3 served by moto in
server mode (a real HTTP server on 127.0.0.1, boto3 talking to it over the wire), plus
sample files of each allowed type and ways to tamper with a stored file."""

from __future__ import annotations

import os
import socket
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.storage.evidence import (
    LocalEvidenceStore,
    S3EvidenceStore,
    evidence_key,
    open_setting,
)

BUCKET = "ledger-evidence"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
"""moto accepts any credentials; these keep boto3 from looking for real ones."""


def png(red: int = 255, size: int = 4) -> bytes:
    """A valid ``size`` × ``size`` RGB PNG of one colour (drawable by reportlab)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + bytes([red, 40, 40]) * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


SAMPLES: dict[str, bytes] = {
    "image/png": png(),
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32,
    "application/pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n%%EOF\n",
    "image/tiff": b"II*\x00\x08\x00\x00\x00" + b"\x00" * 16,
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24,
    "image/heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    "text/plain; charset=utf-8": "客户签字：张三\n".encode(),
}
"""One file of each allowed media type, as its magic numbers make it."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (a free port), with the bucket made."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in S3_ENV}
    os.environ.update(S3_ENV)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
    try:
        yield endpoint
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class StoreCase:
    """A store and its setting (for ``LEDGER_EVIDENCE``), with a hand to tamper with it
    behind the ledger's back."""

    setting: str
    kind: str

    def open(self, max_bytes: int | None = None) -> Any:
        store = open_setting(self.setting)
        if max_bytes is not None:
            store.max_bytes = max_bytes
        return store

    def overwrite(self, sha256: str, data: bytes) -> None:
        """Put ``data`` where the file ``sha256`` lives (a changed or swapped file)."""
        store = self.open()
        if isinstance(store, LocalEvidenceStore):
            path = store.path_of(sha256)
            path.chmod(0o644)
            path.write_bytes(data)
        else:
            assert isinstance(store, S3EvidenceStore)
            store.client.put_object(
                Bucket=store.bucket, Key=store._key(evidence_key(sha256)), Body=data
            )

    def delete(self, sha256: str) -> None:
        store = self.open()
        if isinstance(store, LocalEvidenceStore):
            store.path_of(sha256).unlink()
        else:
            assert isinstance(store, S3EvidenceStore)
            store.client.delete_object(Bucket=store.bucket, Key=store._key(evidence_key(sha256)))

    def stored(self, sha256: str) -> bytes | None:
        store = self.open()
        chunks = store._chunks(evidence_key(sha256))
        return None if chunks is None else b"".join(chunks)


_PREFIXES = iter(range(1_000_000))


@pytest.fixture(params=["local", "s3"])
def store_case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    """Each test once on a local folder and once on S3 (a fresh prefix per test)."""
    if request.param == "local":
        return StoreCase(str(tmp_path / "evidence"), "local")
    endpoint = request.getfixturevalue("s3_endpoint")
    prefix = f"t{next(_PREFIXES)}-{os.getpid()}"
    return StoreCase(f"s3://{BUCKET}/{prefix}?endpoint_url={endpoint}", "s3")
