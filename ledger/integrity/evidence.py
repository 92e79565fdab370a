"""``ledger verify``'s ``evidence`` check: every file the chain names is re-hashed.

An ``EvidenceAttached`` event (of a ticket, a return visit or a corrective action) records a
file's SHA-256; the bytes live in the evidence store (``ledger/storage/evidence.py``) under
that hash. The chain proves the event; this check proves the file: it reads every file
back and hashes it in the ledger (never trusting a server's checksum). A file the store
lacks fails as *missing*; bytes that hash to anything else fail as *changed* (an edited
byte, or another file put in its place).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from eventsourcing.utils import get_topic

from ledger.domain.evidence import EvidenceFacts
from ledger.domain.model import DomainEvent, recorded_events
from ledger.integrity.findings import EVIDENCE, Findings, Problem
from ledger.storage.evidence import (
    EvidenceError,
    EvidenceStore,
    FileCheck,
    FileState,
)

EvidenceOpener = Callable[[], EvidenceStore]
"""Opens the configured store (raising ``EvidenceNotConfigured`` when there is none):
called only when the chain names a file."""

EVIDENCE_TOPICS = frozenset(
    get_topic(cls) for cls in recorded_events(DomainEvent) if issubclass(cls, EvidenceFacts)
)
"""The stored topics of the ``EvidenceAttached`` events (one per aggregate)."""


def check_evidence(
    links: Sequence[tuple[int, Any, int | None, Any]],
    open_store: EvidenceOpener,
    findings: Findings,
    *,
    erased: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Re-hash the file of each evidence event (``links``: position, originator id,
    version and stored state), each distinct file once. ``erased``: the files deleted with
    an erased data subject (``SubjectErased``): their absence is no problem."""
    if not links:
        return
    try:
        store = open_store()
    except EvidenceError as e:
        findings.add(
            Problem(EVIDENCE, f"{len(links)} evidence file(s) not checked: {e}", links[0][0])
        )
        return
    checked: dict[str, FileCheck | str] = {}
    for position, originator_id, version, state in links:
        try:
            data = orjson.loads(bytes(state))
            sha256, name = str(data["sha256"]), str(data["file_name"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # an unreadable event: the hashes check reports the edit
        if sha256 not in checked:
            try:
                checked[sha256] = store.check(sha256)
            except EvidenceError as e:
                checked[sha256] = str(e)
        result = checked[sha256]
        erased_file = sha256 in erased and not isinstance(result, str)
        if erased_file and result.state is FileState.MISSING:  # type: ignore[union-attr]
            continue
        problem = _problem(result, sha256, name, store, position)
        if problem is not None:
            findings.add(
                Problem(
                    EVIDENCE,
                    problem,
                    position,
                    originator_id=str(originator_id),
                    version=version,
                )
            )


def _problem(
    result: FileCheck | str, sha256: str, name: str, store: EvidenceStore, position: int
) -> str | None:
    file = f"evidence file {name} (sha256 {sha256}) of position {position}"
    if isinstance(result, str):
        return f"{file} cannot be read: {result}"
    if result.state is FileState.MISSING:
        return f"{file} is missing from the evidence store {store.describe()}"
    if result.state is FileState.CHANGED:
        return f"{file} has changed: its bytes in {store.describe()} hash to {result.actual}"
    return None
