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
* ``signatures`` / ``digests``: each digest's signature holds (and was made with the key
  the auditor names, when given), and the log extends each digest. A digest whose
  signature fails or is refused is not compared with the log: its claims mean nothing.

The chain is streamed in pages of the driver's raw rows (``iter_link_pages``) and hashed
with a :class:`LinkHasher` (no UUIDs parsed, no dataclass per link unless it fails); at most
``limit`` problems are kept per check (all are counted), so memory stays bounded however
long the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Connection, Engine, select, text

from ledger.integrity.digest import Digest
from ledger.storage.chain import (
    CHAIN_TABLE,
    GENESIS,
    ChainedEvent,
    LinkHasher,
    _as_uuid,
    _id_column,
    canonical_bytes,
    canonical_id,
    earlier,
    iter_link_pages,
    link,
    recorded_text,
    recorded_time,
)
from ledger.storage.clock_mode import fixed_clock_since
from ledger.storage.tables import projection_positions

HASHES = "hashes"
POSITIONS = "positions"
EVENTS = "events"
UNCHAINED = "unchained"
IDS = "ids"
VERSIONS = "versions"
TIMES = "times"
READ_MODELS = "read_models"
DIGESTS = "digests"
SIGNATURES = "signatures"
CHECKS = (
    HASHES,
    POSITIONS,
    EVENTS,
    UNCHAINED,
    IDS,
    VERSIONS,
    TIMES,
    READ_MODELS,
    DIGESTS,
    SIGNATURES,
)

DEFAULT_BATCH = 1000
DEFAULT_LIMIT = 20
REWRITTEN = (
    "event_hash does not match the stored event (rewritten, reordered or the chain was edited)"
)


@dataclass(frozen=True)
class Problem:
    """One thing found wrong. ``position`` is the first chain position it concerns;
    ``subject`` the record it touches (``ticket T-2026-000001``, or the aggregate's kind
    and id), named in the message too."""

    check: str
    message: str
    position: int | None = None
    notification_id: int | None = None
    originator_id: str | None = None
    version: int | None = None
    subject: str | None = None

    def sort_key(self) -> tuple[bool, int, int]:
        return (self.position is None, self.position or 0, CHECKS.index(self.check))

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "position": self.position,
            "notification_id": self.notification_id,
            "originator_id": self.originator_id,
            "subject": self.subject,
            "version": self.version,
            "message": self.message,
        }


@dataclass
class CheckResult:
    """A check's outcome: how many problems, and the first ``limit`` of them."""

    name: str
    count: int = 0
    kept: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass(frozen=True)
class DigestResult:
    digest: Digest
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class Verdict:
    """Everything ``ledger verify`` found. ``ok`` only when every check holds."""

    events: int
    head_position: int
    head_hash: bytes
    checks: dict[str, CheckResult]
    digests: list[DigestResult]
    fixed_clock_since: datetime | None = None
    """When the ledger was declared a fixed-clock (demo or test) ledger: its recorded times
    are a fixed clock's, not the real time. Not a failure; every report says so."""

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def problems(self) -> list[Problem]:
        """The kept problems of every check, first position first."""
        return sorted((p for c in self.checks.values() for p in c.kept), key=Problem.sort_key)

    @property
    def problem_count(self) -> int:
        return sum(c.count for c in self.checks.values())


class _Findings:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.checks = {name: CheckResult(name) for name in CHECKS}

    def add(self, problem: Problem) -> None:
        result = self.checks[problem.check]
        result.count += 1
        if len(result.kept) < self.limit:
            result.kept.append(problem)

    def counted(self, check: str, count: int, kept: list[Problem]) -> None:
        result = self.checks[check]
        result.count += count
        result.kept.extend(kept[: self.limit])


def verify_ledger(
    engine: Engine,
    events_table: str,
    digests: Sequence[Digest] = (),
    *,
    public_key: bytes | None = None,
    batch: int = DEFAULT_BATCH,
    limit: int = DEFAULT_LIMIT,
    on_progress: Callable[[int], None] | None = None,
) -> Verdict:
    """Run every check. ``public_key`` (raw 32 bytes): the key every digest must be signed
    with; without it a digest's signature is checked against its own embedded key only.
    ``on_progress`` is called with the number of links checked so far."""
    findings = _Findings(limit)
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

    results = []
    with engine.connect() as conn:
        for digest in digests:
            result = check_digest(conn, digest, position, public_key=public_key, broken=broken)
            if result.ok and id(digest) in recorded_before:
                result = DigestResult(digest, (recorded_before[id(digest)],))
            for problem in result.problems:
                findings.add(problem)
            results.append(result)
        _name_subjects(conn, events_table, findings)
    return Verdict(events, position, head_hash, findings.checks, results, fixed_clock_since(engine))


def _first_broken(findings: _Findings) -> int | None:
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
        str(_as_uuid(stored_id)),
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
        None if stored_id is None else str(_as_uuid(stored_id)),
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
                None if stored_id is None else str(_as_uuid(stored_id)),
                version,
            )


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


def _check_unchained(conn: Connection, events_table: str, findings: _Findings) -> None:
    nid = _id_column(conn)
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
                f"notification {n} (aggregate {_as_uuid(o)} version {v}) is not in the chain "
                "(inserted behind the recorder's back, or its link was deleted)",
                notification_id=n,
                originator_id=str(_as_uuid(o)),
                version=v,
            )
            for n, o, v in rows
        ],
    )


def _check_versions(
    conn: Connection, events_table: str, findings: _Findings, *, by_value: bool = False
) -> None:
    """Each aggregate's versions, in order, must be 1, 2, 3 …: a row whose version is not
    its predecessor's + 1 is where a version went missing (or repeats). ``by_value``:
    group by the id's value, not its stored text (some id is respelled; SQLite only, as
    PostgreSQL's uuid column has one spelling)."""
    nid = _id_column(conn)
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
        originator = str(_as_uuid(stored_id))
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


def _name_subjects(conn: Connection, events_table: str, findings: _Findings) -> None:
    """Name, in each kept problem, the record it touches (a ticket by its number, any
    other aggregate by its kind and id), so an auditor knows what to look at."""
    ids = {p.originator_id for r in findings.checks.values() for p in r.kept if p.originator_id}
    subjects = {oid: _subject(conn, events_table, oid) for oid in sorted(ids)}
    for result in findings.checks.values():
        result.kept = [
            p if p.originator_id is None else _named(p, subjects[p.originator_id])
            for p in result.kept
        ]


def _subject(conn: Connection, events_table: str, originator_id: str) -> str:
    """``ticket T-2026-000001`` (the number its first event carries), else the kind of
    aggregate (the module of its first event's topic) and its id."""
    try:
        value = UUID(originator_id)
    except ValueError:
        return f"aggregate {originator_id}"
    sqlite = conn.dialect.name == "sqlite"
    first = (
        f"SELECT topic, state FROM {events_table} WHERE {{where}} "
        "ORDER BY originator_version LIMIT 1"
    )
    row = conn.execute(
        text(first.format(where="originator_id = :id")), {"id": value.hex if sqlite else value}
    ).first()
    if row is None and sqlite:  # every event of it respelled
        where = "lower(replace(originator_id, '-', '')) = :id"
        row = conn.execute(text(first.format(where=where)), {"id": value.hex}).first()
    if row is None:
        return f"aggregate {originator_id}"
    topic, state = row
    kind = str(topic).split(":")[0].rsplit(".", 1)[-1].replace("_", " ")
    number = None
    if kind != "numbering":
        try:
            data = orjson.loads(bytes(state))
        except orjson.JSONDecodeError:
            data = None
        number = data.get("number") if isinstance(data, dict) else None
    if kind == "numbering":
        kind = "ticket number sequence"
    return f"{kind} {number}" if isinstance(number, str) else f"{kind} {originator_id}"


def _named(problem: Problem, subject: str) -> Problem:
    label = subject if problem.version is None else f"{subject} version {problem.version}"
    message = problem.message
    aggregate = f"aggregate {problem.originator_id}"
    at = f"position {problem.position}"
    if aggregate in message:
        message = message.replace(aggregate, subject, 1)
    elif problem.position is not None and at in message:
        message = message.replace(at, f"{at} ({label})", 1)
    else:
        message = f"{message} ({label})"
    return replace(problem, message=message, subject=subject)


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


# --------------------------------------------------------------------------- one aggregate


def chain_predecessor_times(
    engine: Engine, events_table: str, originator_id: UUID
) -> dict[int, datetime]:
    """For each version of one aggregate, the recorded time of the event before it in the
    chain (by index: two lookups per event)."""
    with engine.connect() as conn:
        nid = _id_column(conn)
        sqlite = conn.dialect.name == "sqlite"
        rows = conn.execute(
            text(
                f"SELECT e.originator_version, pe.state FROM {events_table} e "
                f"JOIN {CHAIN_TABLE} c ON c.notification_id = e.{nid} "
                f"JOIN {CHAIN_TABLE} pc ON pc.position = c.position - 1 "
                f"JOIN {events_table} pe ON pe.{nid} = pc.notification_id "
                "WHERE e.originator_id = :id"
            ),
            {"id": originator_id.hex if sqlite else originator_id},
        ).all()
    found = {}
    for version, state in rows:
        at = recorded_time(recorded_text(bytes(state)))
        if at is not None:
            found[int(version)] = at
    return found


@dataclass(frozen=True)
class LinkCheck:
    """One event of an aggregate and its place in the chain.

    ``ok``: the event has a link whose ``event_hash`` recomputes from the stored hash of
    the link before it (``previous_hash``) and the stored event. ``problem`` says why not.
    """

    version: int
    notification_id: int
    position: int | None
    event_hash: str | None  # hex
    previous_hash: str | None  # hex; GENESIS for position 1
    ok: bool
    problem: str | None


def verify_aggregate(
    engine: Engine, events_table: str, originator_id: UUID | str
) -> list[LinkCheck]:
    """Check each event of one aggregate (a ticket, a visit …) against its chain link, in
    version order: O(events of that aggregate), by index. Proves each link locally;
    that the chain around them is unbroken is ``verify_ledger``'s business."""
    if not isinstance(originator_id, UUID):
        try:
            originator_id = UUID(originator_id)
        except ValueError:
            return []  # every aggregate id is a UUID: no such aggregate
    with engine.connect() as conn:
        nid = _id_column(conn)
        sqlite = conn.dialect.name == "sqlite"
        rows = conn.execute(
            text(
                f"SELECT e.originator_version, e.{nid}, e.topic, e.state, c.position, "
                f"c.event_hash, p.event_hash FROM {events_table} e "
                f"LEFT JOIN {CHAIN_TABLE} c ON c.notification_id = e.{nid} "
                f"LEFT JOIN {CHAIN_TABLE} p ON p.position = c.position - 1 "
                f"WHERE e.originator_id = :id ORDER BY e.originator_version"
            ),
            {"id": originator_id.hex if sqlite else originator_id},  # as each recorder stores it
        ).all()
    checks = []
    expected = 1
    for version, n, topic, state, position, stored, before in rows:
        previous = GENESIS if position == 1 else None if before is None else bytes(before)
        problem: str | None = None
        if position is None:
            problem = f"notification {n} is not in the chain"
        elif previous is None:
            problem = f"position {position}: the link before it (position {position - 1}) is gone"
        elif link(
            previous, canonical_bytes(position, originator_id, version, topic, bytes(state))
        ) != bytes(stored):
            problem = f"position {position}: {REWRITTEN}"
        elif version != expected:
            problem = f"position {position}: version {version} follows version {expected - 1}"
        expected = version + 1
        checks.append(
            LinkCheck(
                version=version,
                notification_id=n,
                position=position,
                event_hash=None if stored is None else bytes(stored).hex(),
                previous_hash=None if previous is None else previous.hex(),
                ok=problem is None,
                problem=problem,
            )
        )
    return checks
