"""Erasing a data subject's personal information (PIPL art. 47), the retention sweep, and
the subject's export (art. 45): docs/privacy.md.

An erasure records ``SubjectErased`` (who, why, which subject: no personal data), destroys
the subject's key (the fields it encrypts read as ``[已删除]`` from then on), deletes the
evidence files that may show the person, rebuilds the read models (they held decrypted
copies) and, on SQLite, rewrites the database file so no freed page keeps a copy. Erasing a
subject already erased changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.utils import get_topic
from sqlalchemy import Engine, text

from ledger.clock import Clock
from ledger.commands.application import LedgerApplication, NotFound
from ledger.commands.registry import authorise
from ledger.domain.evidence import EvidenceFacts, EvidenceKind
from ledger.domain.model import DomainEvent, Stamp, recorded_events
from ledger.domain.privacy import (
    PERSONAL_EVIDENCE_KINDS,
    SUBJECT_ID,
    PrivacySubject,
    SubjectErased,
    decide_erase,
    normalise,
    personal_events,
    personal_fields,
    project_subject,
    subject_aggregate_id,
)
from ledger.domain.return_visit import ReturnVisit, VisitStatus, project_visit
from ledger.domain.ticket import Ticket, project_ticket
from ledger.domain.values import Role, TicketStatus
from ledger.projections import ProjectionRunner
from ledger.storage.evidence import EvidenceStore
from ledger.storage.privacy import PII, KeyStore, privacy_keys

DEFAULT_KEEP_YEARS = 3
"""Personal information is kept this many years after its ticket or visit is finished,
unless ``--keep-years`` (or ``LEDGER_PRIVACY_KEEP_YEARS``) says otherwise."""


class UnknownSubject(NotFound):
    """No data subject by that id (or name, or phone) is in the ledger."""


@dataclass(frozen=True)
class Appearance:
    """One personal field of one event naming the subject."""

    aggregate_id: UUID
    version: int
    topic: str
    field: str
    sealed: bool
    """Encrypted (``False``: stored in plaintext by an older ledger)."""


@dataclass
class SubjectIndex:
    """Where each subject appears, and which evidence files each aggregate has: one pass
    over the log's personal and evidence events (no key needed for encrypted fields)."""

    appearances: dict[str, list[Appearance]] = field(default_factory=lambda: defaultdict(list))
    evidence: dict[UUID, list[tuple[str, EvidenceKind]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def events(self, subject: str) -> int:
        """How many events name the subject (a contact's name and phone: one event)."""
        return len({(a.aggregate_id, a.version) for a in self.appearances.get(subject, [])})

    def aggregates(self, subject: str) -> list[UUID]:
        return list(dict.fromkeys(a.aggregate_id for a in self.appearances.get(subject, [])))

    def personal_files(self, subject: str) -> tuple[str, ...]:
        """The evidence files that may show the subject: the signatures, signed forms,
        faxes and photos of every ticket and visit it appears in."""
        return tuple(
            dict.fromkeys(
                sha256
                for aggregate in self.aggregates(subject)
                for sha256, kind in self.evidence.get(aggregate, [])
                if kind in PERSONAL_EVIDENCE_KINDS
            )
        )


@dataclass(frozen=True)
class Erasure:
    subject_id: str
    event: SubjectErased | None
    """``None``: the subject was already erased (nothing recorded)."""
    key_destroyed: bool
    files_deleted: tuple[str, ...]


@dataclass(frozen=True)
class SweepResult:
    keep_years: int
    erased: list[Erasure]
    kept: int
    """Subjects not yet due."""


class PrivacyService:
    def __init__(
        self,
        app: LedgerApplication,
        keys: KeyStore,
        clock: Clock,
        projections: ProjectionRunner,
        engine: Engine,
    ) -> None:
        self.app = app
        self.keys = keys
        self.clock = clock
        self.projections = projections
        self.engine = engine

    # ------------------------------------------------------------------ reading

    def subject_ids(self, *, name: str | None = None, phone: str | None = None) -> list[str]:
        """The subject ids a person's name or phone number names."""
        identities = [f"name:{normalise(name)}"] if name else []
        identities += [f"phone:{normalise(phone)}"] if phone else []
        return [self.keys.subject_id(identity) for identity in identities]

    def index(self) -> SubjectIndex:
        index = SubjectIndex()
        personal = {get_topic(cls): cls for cls in personal_events()}
        evidence = [
            get_topic(c) for c in recorded_events(DomainEvent) if issubclass(c, EvidenceFacts)
        ]
        for notification in self._notifications([*personal, *evidence]):
            state = orjson.loads(notification.state)
            aggregate = _uuid(notification.originator_id)
            cls = personal.get(notification.topic)
            if cls is None:
                index.evidence[aggregate].append((state["sha256"], EvidenceKind(state["kind"])))
                continue
            for subject, name, sealed in self._subjects(cls, state):
                index.appearances[subject].append(
                    Appearance(
                        aggregate,
                        notification.originator_version,
                        notification.topic,
                        name,
                        sealed,
                    )
                )
        return index

    def _subjects(self, cls: type[Any], state: dict[str, Any]) -> Iterator[tuple[str, str, bool]]:
        for f in personal_fields(cls):
            parent: Any = state
            for part in f.path[:-1]:
                parent = parent.get(part) if isinstance(parent, dict) else None
            if not isinstance(parent, dict):
                continue
            value = parent.get(f.path[-1])
            if isinstance(value, dict) and PII in value:
                yield str(value[PII]), f.name, True
            elif isinstance(value, str):
                yield self.keys.subject_id(f.personal.identity(value, parent)), f.name, False

    def _notifications(self, topics: list[str]) -> Iterator[Any]:
        start = 0
        while True:
            page = self.app.recorder.select_notifications(
                start=start, limit=500, topics=topics, inclusive_of_start=False
            )
            if not page:
                return
            yield from page
            start = page[-1].id

    def subject(self, subject_id: str) -> PrivacySubject | None:
        try:
            found: PrivacySubject | None = self.app.get(
                subject_aggregate_id(subject_id), project_subject
            )
        except Exception:  # the library's AggregateNotFoundError: never erased
            return None
        return found

    def export(self, subject_id: str) -> dict[str, Any]:
        """What the ledger holds about a subject (PIPL art. 45): every event naming it, the
        personal fields as they read now, and the evidence files that may show the person."""
        _check_id(subject_id)
        index = self.index()
        appearances = index.appearances.get(subject_id, [])
        erased = self.subject(subject_id)
        if not appearances and erased is None and self.keys.state(subject_id) == "unknown":
            raise UnknownSubject(f"no data subject {subject_id} in this ledger")
        records = []
        by_event: dict[tuple[UUID, int], list[Appearance]] = defaultdict(list)
        for appearance in appearances:
            by_event[(appearance.aggregate_id, appearance.version)].append(appearance)
        for (aggregate, version), found in by_event.items():
            event = self.app.read_version(aggregate, version)
            values = event.model_dump(mode="json")
            records.append(
                {
                    "aggregate_id": str(aggregate),
                    "record": _record_number(self.app, aggregate),
                    "version": version,
                    "event": type(event).__name__,
                    "occurred_at": event.occurred_at.isoformat(),
                    "recorded_at": event.recorded_at.isoformat(),
                    "fields": {a.field: _at(values, a.field) for a in found},
                    "encrypted": all(a.sealed for a in found),
                }
            )
        return {
            "subject_id": subject_id,
            "key": self.keys.state(subject_id),
            "erased": None
            if erased is None
            else {"at": erased.erased_at.isoformat(), "reason": erased.reason},
            "records": records,
            "evidence_files": list(index.personal_files(subject_id)),
        }

    # ------------------------------------------------------------------ erasing

    def erase(
        self,
        subject_id: str,
        reason: str,
        *,
        actor: str,
        role: Role,
        basis: str = "request",
        evidence: Callable[[], EvidenceStore] | None = None,
        index: SubjectIndex | None = None,
    ) -> Erasure:
        """Erase one subject (``evidence``: opens the evidence store, when there is one)."""
        authorise("privacy_erase" if basis == "request" else "privacy_sweep", role, actor=actor)
        _check_id(subject_id)
        index = index if index is not None else self.index()
        previous = self.subject(subject_id)
        files = (
            tuple(previous_event.evidence_erased)
            if (previous_event := self._erased_event(previous)) is not None
            else index.personal_files(subject_id)
        )
        event = None
        if previous is None:
            if not index.appearances.get(subject_id) and self.keys.state(subject_id) == "unknown":
                raise UnknownSubject(f"no data subject {subject_id} in this ledger")
            now = self.clock.now()
            stamp = Stamp(actor=actor, role=role, occurred_at=now, recorded_at=now)
            event = decide_erase(previous, stamp, subject_id, reason, basis, files)
            if event is not None:
                self.app.save(event)
        at = event.recorded_at if event is not None else self.clock.now()
        destroyed = self.keys.destroy(subject_id, at)
        deleted = tuple(sha for sha in files if evidence is not None and evidence().delete(sha))
        if event is not None or destroyed or deleted:
            self.scrub()
        return Erasure(subject_id, event, destroyed, deleted)

    def _erased_event(self, subject: PrivacySubject | None) -> SubjectErased | None:
        if subject is None:
            return None
        event = self.app.read_version(subject.id, 1)
        return event if isinstance(event, SubjectErased) else None

    def scrub(self) -> None:
        """No copy of erased plaintext left behind: the read models rebuilt from the log
        (whose fields now read as erased) and, on SQLite, the file rewritten and the WAL
        emptied; on PostgreSQL the read models' tables and the key store rewritten."""
        self.projections.rebuild()
        tables = [
            *(t.name for p in self.projections.projections.values() for t in p.tables),
            privacy_keys.name,
        ]
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self.engine.dialect.name == "sqlite":
                conn.execute(text("VACUUM"))
                conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            else:
                for name in tables:
                    conn.execute(text(f'VACUUM FULL "{name}"'))

    # ------------------------------------------------------------------ retention

    def sweep(
        self,
        now: datetime,
        keep_years: int,
        *,
        actor: str,
        role: Role,
        evidence: Callable[[], EvidenceStore] | None = None,
        dry_run: bool = False,
    ) -> SweepResult:
        """Erase every subject whose tickets and visits all finished more than
        ``keep_years`` ago (idempotent: an erased subject is not due again)."""
        authorise("privacy_sweep", role, actor=actor)
        index = self.index()
        erased: list[Erasure] = []
        kept = 0
        finished: dict[UUID, datetime | None] = {}
        for subject_id in list(index.appearances):
            if self.subject(subject_id) is not None:
                if self.keys.state(subject_id) == "active" and not dry_run:
                    # erased, but its key is back (a key store restored from a backup)
                    erased.append(
                        self.erase(
                            subject_id,
                            "",
                            actor=actor,
                            role=role,
                            basis="retention",
                            evidence=evidence,
                            index=index,
                        )
                    )
                continue
            ends = [
                finished.setdefault(aggregate, self._finished_at(aggregate))
                for aggregate in index.aggregates(subject_id)
            ]
            due = all(end is not None and _add_years(end, keep_years) <= now for end in ends)
            if not due:
                kept += 1
                continue
            if dry_run:
                erased.append(Erasure(subject_id, None, False, ()))
                continue
            erased.append(
                self.erase(
                    subject_id,
                    f"retention: {keep_years} years after the ticket or visit was finished",
                    actor=actor,
                    role=role,
                    basis="retention",
                    evidence=evidence,
                    index=index,
                )
            )
        return SweepResult(keep_years, erased, kept)

    def _finished_at(self, aggregate: UUID) -> datetime | None:
        """When a ticket was closed or cancelled, a visit conducted or cancelled; ``None``
        while it is open."""
        first = self.app.read_version(aggregate, 1)
        if first.__class__.__module__ == "ledger.domain.ticket":
            ticket: Ticket = self.app.get(aggregate, project_ticket)
            if ticket.status is TicketStatus.CLOSED:
                return ticket.closed_at
            if ticket.status is TicketStatus.CANCELLED:
                return ticket.cancelled_at
            return None
        visit: ReturnVisit = self.app.get(aggregate, project_visit)
        if visit.status in (VisitStatus.CONDUCTED, VisitStatus.CANCELLED):
            return visit.modified_on
        return None


def _check_id(subject_id: str) -> None:
    if not SUBJECT_ID.fullmatch(subject_id):
        raise UnknownSubject(
            f"{subject_id!r} is no data subject id (s- and 24 hex digits; "
            "`ledger privacy subjects --name/--phone` finds one)"
        )


def _add_years(when: datetime, years: int) -> datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def _at(values: dict[str, Any], dotted: str) -> Any:
    node: Any = values
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _record_number(app: LedgerApplication, aggregate: UUID) -> str | None:
    first = app.read_version(aggregate, 1)
    number = getattr(first, "number", None)
    return str(number) if number is not None else None
