"""Evidence files (signed service forms, signatures, photos, faxes, reports): what the log
records of one, shared by the tickets, return visits and corrective actions it is attached to.

The log never holds the bytes. An ``EvidenceAttached`` event (one class per aggregate, each
mixing in :class:`EvidenceFacts`) records the file's SHA-256, size, media type (sniffed from
the bytes when it was stored), original name and kind; the bytes live in a
content-addressed store (``ledger/storage/evidence.py``) under that hash, so the hash chain
covers the file through its hash and ``ledger verify`` re-hashes the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, TypeVar

from pydantic import AfterValidator, Field

from ledger.domain.errors import RuleViolation
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    UtcDatetime,
    check_times,
    next_event,
)
from ledger.domain.values import Role


class EvidenceKind(StrEnum):
    """What the file is."""

    SIGNED_FORM = "signed-form"  # the service form (服务单) with the customer's signature
    SIGNATURE = "signature"  # a signature captured alone (on a phone or pad)
    PHOTO = "photo"  # a photo of the site, the device, the fix
    FAX = "fax"  # a faxed signed copy (seed 003)
    REPORT = "report"  # a test or service report
    OTHER = "other"


CUSTOMER_KINDS = frozenset({EvidenceKind.SIGNED_FORM, EvidenceKind.SIGNATURE, EvidenceKind.FAX})
"""What a customer may attach: their own signature, or the form they signed (docs/roles.md:
customers only report, sign and complain)."""

SIGNATURE_FILES = frozenset({EvidenceKind.SIGNATURE, EvidenceKind.SIGNED_FORM, EvidenceKind.FAX})
"""The kinds of file a recorded signature may name as its image."""

FORM_FILES = frozenset({EvidenceKind.SIGNED_FORM, EvidenceKind.FAX})
"""The kinds of file a filed service form may name as its scan."""

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})
"""The media types the dossier draws as images (a TIFF fax or HEIC photo is listed only)."""


def _plain_name(value: str) -> str:
    if "/" in value or "\\" in value:
        raise ValueError("a file name, not a path (no / or \\)")
    return value


Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
"""A SHA-256 digest as 64 lower-case hex digits."""
FileName = Annotated[str, Field(min_length=1, max_length=255), AfterValidator(_plain_name)]
"""The file's original name, without its folder."""
MAX_EVIDENCE_BYTES = 2**40
"""No single file is larger than this (1 TiB); the store's own limit is far lower."""


class EvidenceFacts(Immutable):
    """What is recorded of a file: the fields every ``EvidenceAttached`` event adds to its
    envelope (who attached it, in what role, when)."""

    sha256: Sha256Hex
    size: int = Field(ge=1, le=MAX_EVIDENCE_BYTES)
    media_type: ShortText
    """Sniffed from the bytes, from the store's allow-list."""
    file_name: FileName
    kind: EvidenceKind


class Evidence(EvidenceFacts):
    """A file attached to a record, as the record's state lists it."""

    attached_by: str
    role: Role
    attached_at: UtcDatetime
    """When it was attached in the real world (``occurred_at``)."""
    recorded_at: UtcDatetime
    version: int
    """The record's version the attachment is (its event's ``originator_version``)."""


def evidence_of(event: DomainEvent) -> Evidence:
    """The state entry an ``EvidenceAttached`` event adds."""
    assert isinstance(event, EvidenceFacts)
    return Evidence(
        **{name: getattr(event, name) for name in EvidenceFacts.model_fields},
        attached_by=event.actor,
        role=event.role,
        attached_at=event.occurred_at,
        recorded_at=event.timestamp,
        version=event.originator_version,
    )


E = TypeVar("E", bound=DomainEvent)


def decide_attach(
    cls: type[E],
    record: Aggregate,
    what: str,
    attached: Iterable[Evidence],
    stamp: Stamp,
    facts: EvidenceFacts,
    *,
    not_before: datetime,
    since: str,
) -> E:
    """The ``cls`` event attaching ``facts`` to ``record`` (``what``: e.g. ``ticket
    T-2026-000001``), whose files are ``attached``; not before ``not_before`` (``since``
    names it). The same bytes are attached to a record once; a customer attaches only a
    signature, a signed form or a fax of one."""
    if stamp.role is Role.CUSTOMER and facts.kind not in CUSTOMER_KINDS:
        kinds = ", ".join(sorted(k.value for k in CUSTOMER_KINDS))
        raise RuleViolation(f"a customer attaches only {kinds}, not {facts.kind.value}")
    for earlier in attached:
        if earlier.sha256 == facts.sha256:
            raise RuleViolation(
                f"{what} already has this file ({earlier.file_name}, sha256 "
                f"{facts.sha256[:12]}…, attached by {earlier.attached_by} at version "
                f"{earlier.version})"
            )
    check_times(stamp, not_before, since)
    return next_event(cls, record, stamp, **facts.model_dump())


def require_signature_file(attached: Iterable[Evidence], sha256: str, what: str) -> Evidence:
    """The file ``sha256`` among ``what``'s ``attached`` files, which a signature names as its
    image: it must be there, and be a signature (or the signed form, or its fax)."""
    return _require_file(
        attached, sha256, what, SIGNATURE_FILES, "the signature image", "a signature"
    )


def require_form_file(attached: Iterable[Evidence], sha256: str, what: str) -> Evidence:
    """The file ``sha256`` among ``what``'s ``attached`` files, which a filed service form
    names as its scan: it must be there, and be the signed form (or its fax)."""
    return _require_file(
        attached, sha256, what, FORM_FILES, "the signed form's scan", "a signed form"
    )


def _require_file(
    attached: Iterable[Evidence],
    sha256: str,
    what: str,
    kinds: frozenset[EvidenceKind],
    named: str,
    one_of: str,
) -> Evidence:
    found = next((e for e in attached if e.sha256 == sha256), None)
    if found is None:
        raise RuleViolation(f"{what} has no evidence file {sha256[:12]}…: attach {named} first")
    if found.kind not in kinds:
        listed = ", ".join(sorted(k.value for k in kinds))
        raise RuleViolation(
            f"{what}'s file {found.file_name} is a {found.kind.value}, not {one_of} ({listed})"
        )
    return found
