"""What ``ledger verify`` reports: the checks by name, a :class:`Problem` found, each check's
result, a digest's, and the :class:`Verdict`; and the naming of the record each problem
touches (a ticket by its number), so an auditor knows what to look at.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import Connection, text

from ledger.integrity.digest import Digest

HASHES = "hashes"
POSITIONS = "positions"
EVENTS = "events"
UNCHAINED = "unchained"
IDS = "ids"
VERSIONS = "versions"
TIMES = "times"
READ_MODELS = "read_models"
EVIDENCE = "evidence"
KEYS = "keys"
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
    EVIDENCE,
    KEYS,
    DIGESTS,
    SIGNATURES,
)

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


class Findings:
    """The problems of every check as they are found: each counted, the first ``limit``
    kept."""

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


def name_subjects(conn: Connection, events_table: str, findings: Findings) -> None:
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
