"""Tamper evidence an auditor can check: digests of the hash chain (``digest``) and the
verification of the whole log or of one aggregate (``verify``). See docs/integrity.md."""

from ledger.integrity.aggregate import LinkCheck, verify_aggregate
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
from ledger.integrity.digest_checks import check_digest_extends
from ledger.integrity.findings import Problem, Verdict
from ledger.integrity.verify import verify_ledger

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
