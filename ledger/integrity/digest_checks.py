"""A digest checked against the log: its signature (by the auditor's key, when given), then
whether the log still extends it (the link at its position has its head hash). A digest
whose signature fails or is refused is not compared with the log: its claims mean nothing.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from ledger.integrity.digest import Digest
from ledger.integrity.findings import DIGESTS, SIGNATURES, DigestResult, Problem
from ledger.storage.chain import CHAIN_TABLE
from ledger.storage.hashing import GENESIS


def check_digest(
    conn: Connection,
    digest: Digest,
    head: int,
    *,
    public_key: bytes | None = None,
    broken: int | None = None,
) -> DigestResult:
    """One digest against the log whose head is at ``head``: its signature (by
    ``public_key`` when given), then whether the log extends it. ``broken``: the first
    position where the chain is broken, if known."""
    problems = _signature_problems(digest, public_key)
    if not problems:  # a forged or refused digest says nothing about the log
        extension = check_digest_extends(conn, digest, head, broken=broken)
        if extension is not None:
            problems.append(extension)
    return DigestResult(digest, tuple(problems))


def _signature_problems(digest: Digest, public_key: bytes | None) -> list[Problem]:
    def problem(what: str) -> Problem:
        return Problem(SIGNATURES, f"digest {digest.name}: {what}")

    if not digest.signed:
        if public_key is not None:
            return [problem("unsigned, but --public-key requires a digest signed with it")]
        return []
    problems = []
    if not digest.signature_valid():
        problems.append(problem("signature invalid"))
    if public_key is not None and digest.public_key != public_key:
        signer = "" if digest.public_key is None else digest.public_key.hex()
        problems.append(
            problem(
                f"signed by key {signer[:16]}…, not by the --public-key {public_key.hex()[:16]}… "
                "(refused: anyone can sign a digest with a key of their own)"
            )
        )
    return problems


def check_digest_extends(
    conn: Connection, digest: Digest, head: int, *, broken: int | None = None
) -> Problem | None:
    """Whether the log whose head is at ``head`` extends ``digest``: the link at the
    digest's position still has its head hash. One indexed read; whether the links up
    to there are sound is the chain check's business. ``broken``: the first position
    where the chain is broken, if known (a shorter log is then not a truncated tail)."""
    if digest.position > head:
        how = (
            "truncated"
            if broken is None
            else f"events removed: the chain breaks at position {broken}"
        )
        return Problem(
            DIGESTS,
            f"log ends at position {head} but digest {digest.name} was taken at "
            f"{digest.position} ({how})",
            head + 1 if broken is None else broken,
        )
    if digest.position == 0:
        stored: bytes | None = GENESIS
    else:
        value = conn.scalar(
            text(f"SELECT event_hash FROM {CHAIN_TABLE} WHERE position = :p"),
            {"p": digest.position},
        )
        stored = None if value is None else bytes(value)
    if stored is None:
        return Problem(
            DIGESTS,
            f"digest {digest.name}: the log has no link at position {digest.position} (removed)",
            digest.position,
        )
    if stored != digest.head_hash:
        return Problem(
            DIGESTS,
            f"digest {digest.name}: head hash at position {digest.position} differs "
            "(history rewritten)",
            digest.position,
        )
    return None
