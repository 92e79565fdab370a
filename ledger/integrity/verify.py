"""``ledger verify``: proves the stored log is the one that was written, or says where not.

Checks, each on its own so a report names what broke:

* ``hashes``: every link's ``event_hash`` recomputes from the *stored* hash of the link
  before it and the stored event. Checking each link against its stored predecessor
  keeps a single edit to the one position it touched; together the links prove the
  whole chain.
* ``positions``: chain positions run 1..n with no gap.
* ``events``: every link's event is still in the events table.
* ``unchained``: every event has a link (an anti-join in the database).
* ``ids``: every stored originator id is in the form the recorder writes (SQLite: 32
  lower-case hex digits). The hash covers the id's value, the library looks events up by
  its exact text: an id respelled (upper case, hyphens) keeps its hashes and hides its
  events from every lookup, so it is refused here.
* ``versions``: each aggregate's versions run 1..n with no gap or repeat (a window
  query in the database; the first offending events come back ordered by position). When
  some id is respelled, events are grouped by the id's value, so a respelled history and
  one appended under the real id show as one aggregate with its versions twice.
* ``times``: recorded times never go backwards along the chain, and no event after a
  digest's position was recorded before the digest was taken.
* ``read_models``: no projection has applied events beyond the log's head (read before
  the chain is walked, so followers running meanwhile cannot cause a false alarm).
* ``evidence``: every evidence file the chain names (an ``EvidenceAttached`` event) is in
  the evidence store and its bytes still hash to the recorded SHA-256
  (:mod:`ledger.integrity.evidence`): a missing, changed or swapped file fails, naming the
  record and the file; a file deleted by a data subject's erasure (``SubjectErased``) is
  erased, not missing.
* ``keys``: every encrypted personal field's data subject has its key, or was erased
  (:mod:`ledger.integrity.privacy`): a lost key store is reported, never read as erased.
* ``signatures`` / ``digests``: each digest's signature holds (and was made with the key
  the auditor names, when given), and the log extends each digest. A digest whose
  signature fails or is refused is not compared with the log: its claims mean nothing.

The chain is streamed in pages of the driver's raw rows (``iter_link_pages``) and hashed
with a :class:`LinkHasher` (no UUIDs parsed, no dataclass per link unless it fails); at most
``limit`` problems are kept per check (all are counted), so memory stays bounded however
long the log.

What a check reports is :mod:`ledger.integrity.findings`; a digest against the log,
:mod:`ledger.integrity.digest_checks`; one aggregate's links, :mod:`ledger.integrity.aggregate`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from ledger.integrity.digest import Digest
from ledger.integrity.digest_checks import check_digest
from ledger.integrity.evidence import EVIDENCE_TOPICS, EvidenceOpener, check_evidence
from ledger.integrity.findings import (
    DIGESTS,
    EVENTS,
    HASHES,
    IDS,
    POSITIONS,
    READ_MODELS,
    REWRITTEN,
    TIMES,
    UNCHAINED,
    VERSIONS,
    DigestResult,
    Findings,
    Problem,
    Verdict,
    name_subjects,
)
from ledger.integrity.privacy import ERASED_TOPIC, PERSONAL_TOPICS, ErasedFacts, check_keys
from ledger.storage.chain import CHAIN_TABLE, earlier, recorded_text, recorded_time
from ledger.storage.clock_mode import fixed_clock_since
from ledger.storage.hashing import GENESIS, LinkHasher, as_uuid, canonical_bytes, canonical_id, link
from ledger.storage.privacy import PII_BYTES
from ledger.storage.reads import ChainedEvent, id_column, iter_link_pages
from ledger.storage.tables import projection_positions

DEFAULT_BATCH = 1000
DEFAULT_LIMIT = 20


def verify_ledger(
    engine: Engine,
    events_table: str,
    digests: Sequence[Digest] = (),
    *,
    public_key: bytes | None = None,
    batch: int = DEFAULT_BATCH,
    limit: int = DEFAULT_LIMIT,
    on_progress: Callable[[int], None] | None = None,
    evidence: EvidenceOpener | None = None,
) -> Verdict:
    """Run every check. ``public_key`` (raw 32 bytes): the key every digest must be signed
    with; without it a digest's signature is checked against its own embedded key only.
    ``on_progress`` is called with the number of links checked so far. ``evidence`` opens
    the evidence store, only when the chain names a file (``None``: files are not
    re-hashed)."""
    findings = Findings(limit)
    with engine.connect() as conn:
        read_models = [tuple(row) for row in conn.execute(select(projection_positions))]

    events = 0
    position, head_hash, head_nid = 0, GENESIS, 0
    prev: bytes | None = GENESIS
    canonical = LinkHasher().canonical
    sha256 = hashlib.sha256
    prev_at: bytes | None = None  # the recorded time of the link before
    after_digest: dict[int, list[Digest]] = {}  # the position after each digest's
    for digest in digests:
        after_digest.setdefault(digest.position + 1, []).append(digest)
    recorded_before: dict[int, Problem] = {}  # id(digest) → its created_at is later
    files: list[tuple[int, Any, int | None, Any]] = []  # the evidence events' links
    sealed: list[tuple[int, Any, int | None, str, Any]] = []  # events with encrypted fields
    erased = ErasedFacts()
    # The hot loop works on the driver's raw rows; a link that does not recompute (or has
    # no event, or no predecessor) goes through _check_link, which says why.
    for page in iter_link_pages(engine, events_table, batch=batch):
        for row in page:
            p, notification_id, stored_hash, originator_id, version, topic, state = row
            events += 1
            if p != position + 1:
                gap = (
                    f"positions start at {p}, not 1"
                    if position == 0
                    else f"positions jump from {position} to {p}"
                )
                findings.add(Problem(POSITIONS, gap, position + 1))
                prev = None  # this link's predecessor is gone: its hash cannot be recomputed
            if (
                state is None  # the event is gone (its other fields are None too)
                or version is None
                or topic is None
                or prev is None
                or sha256(prev + canonical(p, originator_id, version, topic, state)).digest()
                != stored_hash
            ):
                problem = _check_link(ChainedEvent.from_row(row), prev)
                if problem is not None:
                    findings.add(problem)
            if topic in EVIDENCE_TOPICS and state is not None:
                files.append((p, originator_id, version, state))
            elif topic in PERSONAL_TOPICS and state is not None and PII_BYTES in bytes(state):
                sealed.append((p, originator_id, version, topic, state))
            elif topic == ERASED_TOPIC and state is not None:
                erased.add(state)
            if type(originator_id) is str and not canonical_id(originator_id):
                findings.add(_respelled(p, notification_id, originator_id, version))
            at = recorded_text(state)
            if at is not None:
                if prev_at is not None and earlier(at, prev_at):
                    findings.add(
                        _backwards(p, notification_id, originator_id, version, at, prev_at)
                    )
                if p in after_digest:
                    _recorded_before(after_digest[p], row, at, recorded_before)
                prev_at = at
            position, head_nid = p, notification_id
            prev = stored_hash
        head_hash = bytes(page[-1][2])
        if on_progress is not None and events % batch == 0:
            on_progress(events)
    if on_progress is not None:
        on_progress(events)

    broken = _first_broken(findings)
    with engine.connect() as conn:
        _check_unchained(conn, events_table, findings)
        _check_versions(conn, events_table, findings, by_value=not findings.checks[IDS].ok)
    for name, applied in read_models:
        if applied > head_nid:
            gone = (
                "events it read are gone (truncated)"
                if broken is None
                else f"events it read are gone (removed: the chain breaks at position {broken})"
            )
            findings.add(
                Problem(
                    READ_MODELS,
                    f"read model {name} has applied events up to notification {applied}, "
                    f"beyond the log's head (position {position}, notification {head_nid}): "
                    + gone,
                    notification_id=applied,
                )
            )

    if evidence is not None:
        check_evidence(files, evidence, findings, erased=erased.files)
    check_keys(engine, sealed, erased, findings)

    results = []
    with engine.connect() as conn:
        for digest in digests:
            result = check_digest(conn, digest, position, public_key=public_key, broken=broken)
            if result.ok and id(digest) in recorded_before:
                result = DigestResult(digest, (recorded_before[id(digest)],))
            for problem in result.problems:
                findings.add(problem)
            results.append(result)
        name_subjects(conn, events_table, findings)
    return Verdict(events, position, head_hash, findings.checks, results, fixed_clock_since(engine))


def _first_broken(findings: Findings) -> int | None:
    """The first position where the chain itself is broken (a hash, a gap, a missing
    event), if anywhere: a log shorter than a digest is then not merely truncated."""
    positions = [
        p.position
        for name in (HASHES, POSITIONS, EVENTS)
        for p in findings.checks[name].kept
        if p.position is not None
    ]
    return min(positions, default=None)


def _respelled(p: int, notification_id: int, stored_id: str, version: int | None) -> Problem:
    return Problem(
        IDS,
        f"position {p}: stored originator id {stored_id!r} is not in the form the recorder "
        "writes (32 lower-case hex digits): its hash still holds, but every lookup by the "
        "id misses these events (respelled behind the recorder's back)",
        p,
        notification_id,
        str(as_uuid(stored_id)),
        version,
    )


def _shown(at: bytes) -> str:
    when = recorded_time(at)
    return at.decode() if when is None else when.isoformat(timespec="seconds")


def _backwards(
    p: int, notification_id: int, stored_id: Any, version: int | None, at: bytes, before: bytes
) -> Problem:
    return Problem(
        TIMES,
        f"position {p}: recorded at {_shown(at)}, before the event it follows in the chain "
        f"(position {p - 1}, recorded at {_shown(before)}): recorded time went backwards",
        p,
        notification_id,
        None if stored_id is None else str(as_uuid(stored_id)),
        version,
    )


def _recorded_before(digests: list[Digest], row: Any, at: bytes, found: dict[int, Problem]) -> None:
    """The first link after each of ``digests`` must not be recorded before the digest
    was taken (the later links follow from the ``times`` check)."""
    p, notification_id, _, stored_id, version = row[:5]
    when = recorded_time(at)
    for digest in digests:
        try:
            taken = datetime.fromisoformat(digest.created_at)
        except ValueError:
            continue
        if when is not None and taken.tzinfo is not None and when < taken:
            found[id(digest)] = Problem(
                DIGESTS,
                f"digest {digest.name}: position {p}, the first event after it, was recorded "
                f"at {_shown(at)}, before the digest was taken ({taken.isoformat()}): "
                "recorded time went backwards",
                p,
                notification_id,
                None if stored_id is None else str(as_uuid(stored_id)),
                version,
            )


def _check_link(chained: ChainedEvent, prev: bytes | None) -> Problem | None:
    """The link's event is present and its hash recomputes from ``prev``, the stored
    hash before it (``None``: unknown, nothing to recompute from)."""
    if chained.present and prev is None:
        return None
    p = chained.position
    if not chained.present:
        check, what = EVENTS, f"event (notification {chained.notification_id}) is missing"
    else:
        assert chained.originator_id is not None and chained.originator_version is not None
        assert chained.topic is not None and chained.state is not None and prev is not None
        canonical = canonical_bytes(
            p, chained.originator_id, chained.originator_version, chained.topic, chained.state
        )
        if link(prev, canonical) == chained.event_hash:
            return None
        check, what = HASHES, REWRITTEN
    return Problem(
        check,
        f"position {p}: {what}",
        p,
        chained.notification_id,
        None if chained.originator_id is None else str(chained.originator_id),
        chained.originator_version,
    )


def _count_and_first(
    conn: Connection, columns: str, source: str, order: str, limit: int
) -> tuple[int, list[Any]]:
    """How many rows ``source`` (a ``FROM … WHERE …`` fragment) holds, and the first
    ``limit`` of them by ``order`` (none read when there are none)."""
    count = int(conn.scalar(text(f"SELECT count(*) {source}")) or 0)
    if not count:
        return 0, []
    rows = conn.execute(
        text(f"SELECT {columns} {source} ORDER BY {order} LIMIT :limit"), {"limit": limit}
    )
    return count, list(rows)


def _check_unchained(conn: Connection, events_table: str, findings: Findings) -> None:
    nid = id_column(conn)
    unlinked = (
        f"FROM {events_table} e WHERE NOT EXISTS "
        f"(SELECT 1 FROM {CHAIN_TABLE} c WHERE c.notification_id = e.{nid})"
    )
    count, rows = _count_and_first(
        conn,
        f"e.{nid}, e.originator_id, e.originator_version",
        unlinked,
        f"e.{nid}",
        findings.limit,
    )
    if not count:
        return
    findings.counted(
        UNCHAINED,
        count,
        [
            Problem(
                UNCHAINED,
                f"notification {n} (aggregate {as_uuid(o)} version {v}) is not in the chain "
                "(inserted behind the recorder's back, or its link was deleted)",
                notification_id=n,
                originator_id=str(as_uuid(o)),
                version=v,
            )
            for n, o, v in rows
        ],
    )


def _check_versions(
    conn: Connection, events_table: str, findings: Findings, *, by_value: bool = False
) -> None:
    """Each aggregate's versions, in order, must be 1, 2, 3 …: a row whose version is not
    its predecessor's + 1 is where a version went missing (or repeats). ``by_value``:
    group by the id's value, not its stored text (some id is respelled; SQLite only, as
    PostgreSQL's uuid column has one spelling)."""
    nid = id_column(conn)
    group = (
        "lower(replace(originator_id, '-', ''))"
        if by_value and conn.dialect.name == "sqlite"
        else "originator_id"
    )
    offending = (
        "FROM (SELECT originator_id, originator_version AS v, "
        f"{nid} AS nid, lag(originator_version) OVER (PARTITION BY {group} "
        f"ORDER BY originator_version, {nid}) AS prev FROM {events_table}) w "
        f"LEFT JOIN {CHAIN_TABLE} c ON c.notification_id = w.nid "
        "WHERE w.v <> coalesce(w.prev, 0) + 1"
    )
    count, rows = _count_and_first(
        conn,
        "c.position, w.nid, w.originator_id, w.v, w.prev",
        offending,
        "c.position IS NULL, c.position, w.nid",
        findings.limit,
    )
    if not count:
        return
    problems = []
    for position, n, stored_id, version, before in rows:
        originator = str(as_uuid(stored_id))
        if before is None:
            what = f"starts at version {version} (versions 1 to {version - 1} are missing)"
        elif version == before:
            what = f"has version {version} twice"
        else:
            missing = (
                f"version {before + 1} is missing"
                if version == before + 2
                else f"versions {before + 1} to {version - 1} are missing"
            )
            what = f"jumps from version {before} to {version} ({missing})"
        where = f"position {position}" if position is not None else f"notification {n}"
        problems.append(
            Problem(
                VERSIONS,
                f"{where}: aggregate {originator} {what}",
                position,
                n,
                originator,
                version,
            )
        )
    findings.counted(VERSIONS, count, problems)
