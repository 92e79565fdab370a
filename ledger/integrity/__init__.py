"""Tamper evidence an auditor can check: digests of the hash chain (``digest``) and the
verification of the whole log or of one aggregate (``verify``). See docs/integrity.md."""

from ledger.integrity.digest import (
    Digest,
    DigestError,
    generate_key,
    load_digest,
    load_private_key,
    load_public_key,
    take_digest,
    write_digest,
)
from ledger.integrity.verify import (
    LinkCheck,
    Problem,
    Verdict,
    check_digest_extends,
    verify_aggregate,
    verify_ledger,
)

__all__ = [
    "Digest",
    "DigestError",
    "LinkCheck",
    "Problem",
    "Verdict",
    "check_digest_extends",
    "generate_key",
    "load_digest",
    "load_private_key",
    "load_public_key",
    "take_digest",
    "verify_aggregate",
    "verify_ledger",
    "write_digest",
]
