"""The evidence store (ledger/storage/evidence.py): the same cases on a local folder and on
S3 (moto in server mode on 127.0.0.1): put, get, the same bytes stored once, the size limit,
the media type sniffed from the bytes, and tampering caught by re-hashing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ledger.storage.evidence import (
    DEFAULT_MAX_BYTES,
    EvidenceChanged,
    EvidenceMissing,
    EvidenceNotConfigured,
    EvidenceSettings,
    FileState,
    LocalEvidenceStore,
    S3EvidenceStore,
    TooLarge,
    UnsupportedMediaType,
    evidence_key,
    open_setting,
    sniff,
)
from ledger.storage.location import parse_location
from tests.evidence_stores import SAMPLES, StoreCase, png, s3_endpoint, store_case

__all__ = ["s3_endpoint", "store_case"]  # fixtures


def test_put_then_get_returns_the_bytes_under_their_hash(store_case: StoreCase) -> None:
    store = store_case.open()
    data = png()
    stored = store.put(data, "签字.png")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert (stored.size, stored.media_type) == (len(data), "image/png")
    assert store.get(stored.sha256) == data
    assert store.check(stored.sha256).state is FileState.OK
    assert store_case.stored(stored.sha256) == data  # under sha256/ab/<hex>
    if store_case.kind == "local":
        path = Path(store_case.setting) / "sha256" / stored.sha256[:2] / stored.sha256
        assert path.read_bytes() == data and path.stat().st_mode & 0o777 == 0o444  # read-only
        assert [p.name for p in path.parent.iterdir()] == [stored.sha256]  # no temporary left


def test_the_same_bytes_are_stored_once(store_case: StoreCase) -> None:
    store = store_case.open()
    first = store.put(SAMPLES["application/pdf"], "a.pdf")
    second = store.put(SAMPLES["application/pdf"], "b.pdf")
    assert first == second
    if store_case.kind == "local":
        files = [p for p in Path(store_case.setting).rglob("*") if p.is_file()]
        assert len(files) == 1
    else:
        assert isinstance(store, S3EvidenceStore)
        listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=store.prefix)
        assert [o["Key"] for o in listed["Contents"]] == [
            f"{store.prefix}/{evidence_key(first.sha256)}"
        ]


@pytest.mark.parametrize("media_type", list(SAMPLES))
def test_each_allowed_type_is_sniffed_from_the_bytes(
    store_case: StoreCase, media_type: str
) -> None:
    stored = store_case.open().put(SAMPLES[media_type], "no-extension")
    assert stored.media_type == media_type


@pytest.mark.parametrize(
    "data",
    [
        b"MZ\x90\x00\x03\x00\x00\x00",  # a Windows executable
        b"PK\x03\x04" + b"\x00" * 20,  # a zip (or .docx)
        b"GIF89a" + b"\x00" * 10,  # not on the allow-list
        "签字".encode("gb18030"),  # not UTF-8
        b"text with a \x1b[31m escape",
    ],
)
def test_bytes_of_no_allowed_type_are_refused_and_nothing_is_stored(
    store_case: StoreCase, data: bytes
) -> None:
    with pytest.raises(UnsupportedMediaType, match=r"^photo\.jpg is of no allowed type"):
        store_case.open().put(data, "photo.jpg")  # the name says JPEG: the bytes decide
    assert store_case.stored(hashlib.sha256(data).hexdigest()) is None


def test_an_empty_file_is_refused(store_case: StoreCase) -> None:
    with pytest.raises(UnsupportedMediaType, match="is empty"):
        store_case.open().put(b"", "empty.txt")


def test_the_size_limit(store_case: StoreCase) -> None:
    store = store_case.open(max_bytes=100)
    data = b"a" * 100
    assert store.put(data, "exactly.txt").size == 100
    over = b"b" * 101
    with pytest.raises(TooLarge, match=r"^big\.txt is 101 bytes: over the evidence limit of 100"):
        store.put(over, "big.txt")
    assert store_case.stored(hashlib.sha256(over).hexdigest()) is None


def test_tampering_is_caught_by_rehashing_never_by_the_servers_word(store_case: StoreCase) -> None:
    store = store_case.open()
    form = store.put(SAMPLES["application/pdf"], "form.pdf")
    photo = store.put(png(red=10), "photo.png")
    # A changed byte.
    changed = bytearray(SAMPLES["application/pdf"])
    changed[-3] ^= 1
    store_case.overwrite(form.sha256, bytes(changed))
    check = store.check(form.sha256)
    assert check.state is FileState.CHANGED
    assert check.actual == hashlib.sha256(bytes(changed)).hexdigest()
    with pytest.raises(EvidenceChanged, match=f"{form.sha256} has changed"):
        store.get(form.sha256)
    # A swapped file: another valid file put under the photo's hash.
    store_case.overwrite(photo.sha256, png(red=200))
    assert store.check(photo.sha256).state is FileState.CHANGED
    # A deleted file.
    store_case.delete(photo.sha256)
    assert store.check(photo.sha256).state is FileState.MISSING
    with pytest.raises(EvidenceMissing):
        store.get(photo.sha256)
    # Putting the right bytes again repairs the damaged copy.
    store.put(SAMPLES["application/pdf"], "form.pdf")
    assert store.check(form.sha256).state is FileState.OK


def test_a_file_never_stored_is_missing(store_case: StoreCase) -> None:
    assert store_case.open().check("0" * 64).state is FileState.MISSING


# --------------------------------------------------------------------------- settings


def test_where_the_store_lives(tmp_path: Path) -> None:
    sqlite = parse_location(f"sqlite:///{tmp_path / 'ledger.db'}")
    default = EvidenceSettings().open(sqlite)
    assert isinstance(default, LocalEvidenceStore)
    assert default.root == tmp_path / "ledger.db.evidence"
    assert default.max_bytes == DEFAULT_MAX_BYTES
    postgres = parse_location("postgresql://u:p@127.0.0.1:5432/ledger")
    with pytest.raises(EvidenceNotConfigured, match="set LEDGER_EVIDENCE"):
        EvidenceSettings().open(postgres)
    folder = EvidenceSettings(str(tmp_path / "files"), 5).open(postgres)
    assert isinstance(folder, LocalEvidenceStore) and folder.max_bytes == 5
    s3 = open_setting(
        "s3://bucket/some/prefix?endpoint_url=http://127.0.0.1:9000&region=cn-north-1"
    )
    assert isinstance(s3, S3EvidenceStore)
    assert (s3.bucket, s3.prefix, s3.endpoint_url, s3.region) == (
        "bucket",
        "some/prefix",
        "http://127.0.0.1:9000",
        "cn-north-1",
    )
    for bad, message in [
        ("s3://", "no bucket"),
        ("s3://b?endpoint=x", "unknown option 'endpoint'"),
        ("ftp://host/x", "a folder or s3://"),
    ]:
        with pytest.raises(EvidenceNotConfigured, match=message):
            open_setting(bad)
    with pytest.raises(EvidenceNotConfigured, match="LEDGER_EVIDENCE_MAX_BYTES: '20MB'"):
        EvidenceSettings.from_env(None, "20MB")
    assert EvidenceSettings.from_env("x", "1024") == EvidenceSettings("x", 1024)


def test_sniffing_reads_magic_numbers_only() -> None:
    assert sniff(b"%PDF-1.7 ...") == "application/pdf"
    assert sniff(b"MM\x00*\x00\x00\x00\x08") == "image/tiff"  # big-endian TIFF (fax)
    assert sniff(b"\x00\x00\x00\x18ftypmp42") is None  # an MP4 video, not HEIC
    assert sniff(b"\xef\xbb\xbfBOM text") == "text/plain; charset=utf-8"
