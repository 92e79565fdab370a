"""``ledger import``: a JSON-lines file of commands, applied in order, in batches, resumable.

Ticket commands go to the :class:`TicketService`, return visit, corrective action and
complaint commands to the :class:`QualityService`. A line that makes a new record (a
``report``, ``visit_schedule``, ``action_raise`` or ``complaint_receive``) may carry a
``ref``; later lines may name it wherever a number goes (``ticket``, ``visit``,
``action``, ``complaint``, ``links``, and ``reference`` about a ticket). A bad line
rejects only itself (unless ``strict``); the report says which lines and why.

**Batches.** Up to ``batch_size`` lines are planned one after the other by the services'
own ``plan`` (validation, role, domain rules, numbering), each against the store *as the
batch's earlier lines leave it* (:class:`_Staged`: their events are staged in memory, not
saved), and the batch's events are saved in **one** ``app.save``: one transaction, one
stretch of the hash chain. A batch that meets a concurrent writer (an integrity error: a
number or a version taken first) is planned once more from fresh state; if it meets one
again, its lines go one per transaction, each retried as ``ledger ticket ...`` would be.

**Resumable.** Every applied line's idempotency key (:func:`command_key`) is saved in the
same transaction as its events (``ledger_commands``, ``ledger/storage/chain.py``), with
the number of the record it made or changed. A batch's keys are looked up all at once
after planning it; if one is recorded the batch is planned again with each line's key
looked up (primary key) before the line: a recorded key is counted ``already_applied`` and
its ref restored from the stored number, so re-running a file after a crash appends
nothing twice.
"""

from __future__ import annotations

import hashlib
from collections import ChainMap, Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from itertools import chain
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.bulk import fewer_collections
from ledger.commands.contracts import ContractService
from ledger.commands.models import (
    COMMAND_NAMES,
    AnyCommand,
    CommandError,
    check_command_name,
    parse_command,
)
from ledger.commands.quality import (
    CREATING,
    QUALITY_COMMAND_NAMES,
    QualityCommand,
    QualityCommandBase,
    QualityService,
    parse_quality_command,
)
from ledger.commands.service import (
    REPORT_ATTEMPTS,
    ConcurrentChange,
    LedgerApplication,
    NotFound,
    TicketService,
)
from ledger.domain.errors import DomainError
from ledger.domain.model import DomainEvent
from ledger.domain.numbering import Series
from ledger.domain.ticket import Reported, TicketEvent
from ledger.storage.chain import CommandKey, RecordedTimeBackwards
from ledger.storage.recorders import chain_position, recorded_commands
from ledger.timeutil import show_error

DEFAULT_BATCH = 500
BATCH_ATTEMPTS = 2
"""A batch that meets a concurrent change is planned once more; then line by line."""
LINE_ATTEMPTS = 2
"""A line on its own: one retry on a concurrent change, as the CLI's commands (a line that
makes a record, which only competes for its number: ``REPORT_ATTEMPTS``)."""


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    applied: int = 0
    already_applied: int = 0
    """Lines skipped because their key was recorded by an earlier run (or line)."""
    rejected: list[Rejection] = field(default_factory=list)
    stopped: bool = False
    refs: dict[str, str] = field(default_factory=dict)
    failed_refs: dict[str, tuple[int, str]] = field(default_factory=dict)
    """A ref whose line was rejected: that line's number and command."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "already_applied": self.already_applied,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "stopped": self.stopped,
            "tickets": {r: n for r, n in self.refs.items() if Series.TICKET.pattern.match(n)},
            "refs": self.refs,
        }


IMPORTABLE = (*COMMAND_NAMES, *QUALITY_COMMAND_NAMES)
NEW_RECORDS = {
    "report": "ticket: its report",
    "visit_schedule": "return visit: its scheduling",
    "action_raise": "corrective action: its raising",
    "complaint_receive": "complaint: its receipt",
}
"""The commands whose line may carry a ``ref`` for the record they make, and what a ref
of a rejected line of each names (for the message of a later line that uses it)."""
assert NEW_RECORDS.keys() == {"report", *CREATING}
REF_FIELDS = ("ticket", "visit", "action", "complaint")
COMMAND_ID_LENGTH = 200


def parse_line(data: dict[str, Any], tz: tzinfo) -> AnyCommand | QualityCommand:
    """One command of any kind, ticket or quality."""
    if check_command_name(data, IMPORTABLE) in QUALITY_COMMAND_NAMES:
        return parse_quality_command(data, tz)
    return parse_command(data, tz)


def _read_line(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CommandError([f"not valid UTF-8 ({e.reason} at byte {e.start})"]) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise CommandError([f"not valid JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise CommandError(["a command must be a JSON object"])
    return data


def _command_id(value: object) -> str | None:
    """A line's own ``command_id``: a string (or integer) of 1 to 200 printable characters."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > COMMAND_ID_LENGTH
        or any(ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise CommandError(
            [
                "command_id: must be a string of 1 to "
                f"{COMMAND_ID_LENGTH} characters without control characters"
            ]
        )
    return value


def content_digest(command: AnyCommand | QualityCommand) -> bytes:
    """What a line says, as validated: the fields it set (after ``--actor``/``--role``
    defaults and refs, times made aware in the zone), as canonical JSON, hashed."""
    fields = command.model_dump(mode="json", exclude_unset=True)
    return hashlib.sha256(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).digest()


def content_key(digest: bytes, occurrence: int) -> str:
    """The idempotency key of a line without a ``command_id``: what it says and which
    occurrence of that content in the file it is (so two identical lines of one file are
    two commands, and an edited file keeps the keys of the lines it did not change). A
    line's own ``command_id`` is its key as ``id:<command_id>``."""
    return "sha256:" + hashlib.sha256(digest + b"#%d" % occurrence).hexdigest()


def _number_for(
    name: object, refs: Mapping[str, str], failed: Mapping[str, tuple[int, str]]
) -> object:
    """A ref of an earlier line becomes the number of the record it made."""
    if not isinstance(name, str | int):
        return name
    key = str(name)
    if key in failed:
        line, command = failed[key]
        raise NotFound(f"ref {key!r} names no {NEW_RECORDS[command]} (line {line}) was rejected")
    return refs.get(key, name)


def _resolve_refs(
    data: dict[str, Any], refs: Mapping[str, str], failed: Mapping[str, tuple[int, str]]
) -> None:
    """Every field that names a record may name it by the ref of an earlier line."""
    for key in REF_FIELDS:
        if key in data:
            data[key] = _number_for(data[key], refs, failed)
    if data.get("about") == "ticket" and "reference" in data:
        data["reference"] = _number_for(data["reference"], refs, failed)
    if isinstance(data.get("links"), list):
        data["links"] = [_number_for(link, refs, failed) for link in data["links"]]


# --------------------------------------------------------------------------- staging

Projector = Callable[[Any, Iterable[Any]], Any]


class _Staged:
    """The application as one batch's planning sees it: the store, plus the events staged
    by the batch's earlier lines. The services plan against it exactly as against the
    application (it is passed to them in its place): they read aggregates through
    ``repository.get`` and a number sequence's last event through
    ``recorder.select_events``; ``save`` stages; everything else is the application's.
    Aggregates read are kept for the batch (later lines of a ticket do not replay it), and
    so are those earlier batches left (``known``, see :class:`_KnownStates`); ``head`` is
    the chain's position when planning began."""

    def __init__(
        self,
        app: LedgerApplication,
        known: Mapping[UUID, tuple[Projector, Any]] | None = None,
        head: int | None = None,
    ) -> None:
        self._app = app
        self.events: list[DomainEvent] = []
        self.keys: list[CommandKey] = []
        self._by_id: defaultdict[UUID, list[DomainEvent]] = defaultdict(list)
        self.states: dict[UUID, tuple[Projector, Any]] = {}
        self._known = known or {}
        self.head = head
        self.repository = _StagedRepository(self)
        self.recorder = _StagedRecorder(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def appended_to(self) -> set[UUID]:
        """The aggregates this batch appends events to."""
        return set(self._by_id)

    def save(self, *events: DomainEvent, **_: Any) -> None:
        """Stage one command's events: later lines of the batch see them."""
        for event in events:
            self._by_id[event.originator_id].append(event)
            cached = self.states.get(event.originator_id)
            if cached is not None:
                projector, state = cached
                self.states[event.originator_id] = (projector, projector(state, [event]))
        self.events.extend(events)

    def get(self, aggregate_id: UUID, projector: Projector) -> Any:
        cached = self.states.get(aggregate_id)
        if cached is None and aggregate_id not in self._by_id:
            cached = self._known.get(aggregate_id)
            if cached is not None and cached[0] is projector:
                self.states[aggregate_id] = cached
        if cached is not None and cached[0] is projector:
            return cached[1]
        staged = self._by_id.get(aggregate_id, [])
        # Made in this batch (staged from version 1): nothing of it can be stored yet.
        made_here = bool(staged) and staged[0].originator_version == 1
        stored = () if made_here else self._app.events.get(aggregate_id)
        state = projector(None, chain(stored, staged))
        if state is None:
            raise AggregateNotFoundError(aggregate_id)
        self.states[aggregate_id] = (projector, state)
        return state

    def select_events(
        self,
        originator_id: UUID,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        staged = [
            event
            for event in self._by_id.get(originator_id, ())
            if (gt is None or event.originator_version > gt)
            and (lte is None or event.originator_version <= lte)
        ]
        recorder = self._app.recorder
        if not staged:
            return recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        to_stored = self._app.mapper.to_stored_event
        if desc and limit == 1:  # the last event (a number sequence's): the last staged one
            return [to_stored(staged[-1])]
        rows = [*recorder.select_events(originator_id, gt=gt, lte=lte), *map(to_stored, staged)]
        rows.sort(key=lambda row: row.originator_version, reverse=desc)
        return rows if limit is None else rows[:limit]

    def write(self) -> None:
        """Save every staged event and the keys of their commands in one transaction."""
        if not self.events:
            return
        try:
            self._app.save(*self.events, commands=self.keys)
        except IntegrityError as e:
            records = ", ".join(dict.fromkeys(key.record for key in self.keys))
            raise ConcurrentChange(f"{records} changed concurrently, retry") from e


KNOWN_STATES = 4096
"""Aggregate states an import keeps between batches (most recently used first)."""


class _KnownStates:
    """The aggregate states saved batches left, for the batches after them: a record a
    later line reads (a visit's ticket, a contract) is not replayed from the store again.

    They are exactly the store's states as long as nobody else writes, so they are used
    only while the chain's position is still the one after our last save, and kept only
    when that save moved the position by exactly its own events since its planning began
    (positions are gap-free and taken in commit order: another writer's commit in between
    would show). Otherwise they are forgotten and read from the store again."""

    def __init__(self, limit: int = KNOWN_STATES) -> None:
        self.states: OrderedDict[UUID, tuple[Projector, Any]] = OrderedDict()
        self.head: int | None = None
        self.limit = limit

    def at(self, head: int) -> Mapping[UUID, tuple[Projector, Any]]:
        """The states, if the chain is still at the position they were left at."""
        if head != self.head:
            self.forget()
        return self.states

    def forget(self) -> None:
        self.states.clear()
        self.head = None

    def saved(self, staged: _Staged, head: int) -> None:
        """``staged`` was written and the chain is now at ``head``."""
        if staged.head is None or head - staged.head != len(staged.events):
            self.forget()
            return
        for key, value in staged.states.items():
            self.states[key] = value
            self.states.move_to_end(key)
        for key in staged.appended_to() - staged.states.keys():
            self.states.pop(key, None)  # changed without being read here: not known any more
        while len(self.states) > self.limit:
            self.states.popitem(last=False)
        self.head = head


class _StagedRepository:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged

    def get(
        self,
        aggregate_id: UUID,
        *,
        version: int | None = None,
        projector_func: Projector,
        **kwargs: Any,
    ) -> Any:
        if version is not None:  # a past version: nothing staged is in it
            repository = self._staged._app.repository
            return repository.get(aggregate_id, version=version, projector_func=projector_func)
        return self._staged.get(aggregate_id, projector_func)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._staged._app.repository, name)


class _StagedRecorder:
    def __init__(self, staged: _Staged) -> None:
        self._staged = staged
        self.select_events = staged.select_events

    def __getattr__(self, name: str) -> Any:
        return getattr(self._staged._app.recorder, name)


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class _Line:
    number: int
    raw: bytes


@dataclass
class _Batch:
    """One attempt at a batch: its staged events, and what it adds to the report once they
    are saved (refs and counts on top of the report's, dropped if the save fails)."""

    staged: _Staged
    refs: ChainMap[str, str]
    failed_refs: ChainMap[str, tuple[int, str]]
    applied: int = 0
    already_applied: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    made: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Refs of the lines it applies: their line and command (should the save fail)."""
    keys: dict[str, str] = field(default_factory=dict)
    occurrences: Counter[bytes] = field(default_factory=Counter)
    creating: bool = False
    stopped: bool = False


class _Importer:
    def __init__(
        self,
        tickets: TicketService,
        quality: QualityService,
        *,
        tz: tzinfo,
        defaults: dict[str, str],
        strict: bool,
    ) -> None:
        self.tickets = tickets
        self.quality = quality
        self.app = tickets.app
        self.tz = tz
        self.defaults = defaults
        self.strict = strict
        self.report = ImportReport()
        self.occurrences: Counter[bytes] = Counter()
        self.known = _KnownStates()
        self.careful = False
        """Check each line's key before planning it (see :meth:`_plan_checked`): after a
        batch that had lines already applied. The first batch is planned optimistically
        too: on a fresh file that saves a lookup per line (a round trip each on
        PostgreSQL); on a re-run its keys are found all at once and it is planned again."""

    def apply(self, lines: Sequence[_Line]) -> None:
        """Apply a batch of lines: in one transaction, else one line at a time."""
        for _ in range(BATCH_ATTEMPTS):
            batch = self._plan_checked(lines)
            if not self._write(batch):
                continue
            self._merge(batch)
            return
        for line in lines:
            self._apply_alone(line)
            if self.report.stopped:
                return

    def _apply_alone(self, line: _Line) -> None:
        attempt = 0
        while True:
            batch = self._plan([line])
            attempt += 1
            try:
                self._write(batch, raising=True)
            except ConcurrentChange as e:
                if attempt < (REPORT_ATTEMPTS if batch.creating else LINE_ATTEMPTS):
                    continue
                # A fixed clock behind the log's head: say so, not "changed concurrently".
                cause = e.__cause__
                reason = cause if isinstance(cause, RecordedTimeBackwards) else e
                batch = self._conflicted(line, batch, str(reason))
            self._merge(batch)
            return

    def _write(self, batch: _Batch, *, raising: bool = False) -> bool:
        """Save a planned batch; false (or ``ConcurrentChange`` when ``raising``) if it met
        a concurrent change. The states it leaves are kept for the next batch."""
        try:
            batch.staged.write()
        except ConcurrentChange:
            self.known.forget()
            if raising:
                raise
            return False
        self.known.saved(batch.staged, chain_position(self.app.recorder))
        return True

    def _conflicted(self, line: _Line, batch: _Batch, reason: str) -> _Batch:
        """What a line that kept meeting concurrent changes adds: its rejection."""
        rejected = _Batch(_Staged(self.app), ChainMap(), ChainMap(dict(batch.made)))
        rejected.rejected.append(Rejection(line.number, reason))
        rejected.stopped = self.strict
        return rejected

    def _merge(self, batch: _Batch) -> None:
        report = self.report
        report.applied += batch.applied
        report.already_applied += batch.already_applied
        report.rejected.extend(batch.rejected)
        report.refs.update(batch.refs.maps[0])
        report.failed_refs.update(batch.failed_refs.maps[0])
        report.stopped = report.stopped or batch.stopped
        self.occurrences.update(batch.occurrences)
        self.careful = batch.already_applied > 0

    def _plan_checked(self, lines: Sequence[_Line]) -> _Batch:
        """Plan a batch, each line's key checked against the recorded ones. For the first
        batch and after a batch that had no line already applied (a fresh file, or past
        the part a crashed run did), the keys are checked all at once after planning, and
        only if one of them was recorded is the batch planned again line by line; the
        primary key still refuses a key recorded meanwhile (the save fails and the batch
        is planned again)."""
        if not self.careful:
            batch = self._plan(lines, careful=False)
            if not recorded_commands(self.app.recorder, list(batch.keys)):
                return batch
        return self._plan(lines, careful=True)

    def _plan(self, lines: Sequence[_Line], *, careful: bool = True) -> _Batch:
        head = chain_position(self.app.recorder)
        staged = _Staged(self.app, self.known.at(head), head)
        app = cast(LedgerApplication, staged)  # it stands in for the application
        contracts = ContractService(app, self.quality.contracts.clock)
        tickets = TicketService(app, self.tickets.clock, self.tickets.tz, contracts.policy_at)
        quality = QualityService(app, self.quality.clock, self.quality.tz, contracts, tickets)
        batch = _Batch(
            staged, ChainMap({}, self.report.refs), ChainMap({}, self.report.failed_refs)
        )
        for line in lines:
            self._plan_line(line, batch, tickets, quality, careful)
            if batch.stopped:
                break
        return batch

    def _plan_line(
        self,
        line: _Line,
        batch: _Batch,
        tickets: TicketService,
        quality: QualityService,
        careful: bool,
    ) -> None:
        ref: str | None = None
        key: str | None = None
        data: dict[str, Any] = {}
        try:
            data = {**self.defaults, **_read_line(line.raw)}
            command_id = _command_id(data.pop("command_id", None))
            if isinstance(data.get("command"), str) and data["command"] in NEW_RECORDS:
                batch.creating = True
                given = data.pop("ref", None)
                ref = None if given is None else str(given)
            _resolve_refs(data, batch.refs, batch.failed_refs)
            command = parse_line(data, self.tz)
            if command_id is None:
                digest = content_digest(command)
                batch.occurrences[digest] += 1
                key = content_key(digest, self.occurrences[digest] + batch.occurrences[digest])
            else:
                key = f"id:{command_id}"
            record = batch.keys.get(key) or (self._recorded(key) if careful else None)
            if record is not None:
                batch.already_applied += 1
            else:
                record = self._stage(command, key, batch.staged, tickets, quality)
                batch.keys[key] = record
                batch.applied += 1
                if ref is not None:
                    batch.made[ref] = (line.number, str(data["command"]))
            if ref is not None:
                batch.refs[ref] = record
        except (CommandError, DomainError, NotFound) as e:
            applied = None if key is None else self._recorded(key)
            if applied is not None:
                # Refused only because another import applied this very line (and maybe
                # later ones) after its key was checked: it is applied, not rejected.
                batch.already_applied += 1
                if ref is not None:
                    batch.refs[ref] = applied
                return
            reason = (
                "; ".join(e.problems) if isinstance(e, CommandError) else show_error(e, self.tz)
            )
            batch.rejected.append(Rejection(line.number, reason))
            if ref is not None:
                batch.failed_refs[ref] = (line.number, str(data.get("command")))
            batch.stopped = self.strict

    def _recorded(self, key: str) -> str | None:
        found = recorded_commands(self.app.recorder, [key]).get(key)
        return None if found is None else found.record

    @staticmethod
    def _stage(
        command: AnyCommand | QualityCommand,
        key: str,
        staged: _Staged,
        tickets: TicketService,
        quality: QualityService,
    ) -> str:
        """Plan one command against the staged state and stage its events with its key;
        the number of the record it made or changed."""
        if isinstance(command, QualityCommandBase):
            plan = quality.plan(command)
            events, record = plan.events, plan.record.number
        else:
            events = tickets.plan(command)
            ticket_event = next(e for e in events if isinstance(e, TicketEvent))
            if isinstance(ticket_event, Reported):
                record = ticket_event.number
            else:
                record = tickets.get(ticket_event.originator_id).number
        staged.keys.append(CommandKey(key, len(staged.events), record))
        staged.save(*events)
        return record


def _batches(lines: Iterable[bytes], size: int) -> Iterator[tuple[list[_Line], int]]:
    """Non-blank lines in batches of ``size``, each with how many lines it covers."""
    batch: list[_Line] = []
    covered = 0
    for number, raw in enumerate(lines, start=1):
        covered += 1
        if raw.strip():
            batch.append(_Line(number, raw))
        if len(batch) == size:
            yield batch, covered
            batch, covered = [], 0
    if covered:
        yield batch, covered


def import_commands(
    tickets: TicketService,
    quality: QualityService,
    path: Path,
    *,
    tz: tzinfo,
    defaults: dict[str, str] | None = None,
    strict: bool = False,
    batch_size: int = DEFAULT_BATCH,
    on_lines: Callable[[int], None] | None = None,
) -> ImportReport:
    """Apply the file's lines in batches of ``batch_size``; ``on_lines(n)`` after each
    batch is saved, with the number of file lines it covered. With ``strict``, stop at the
    first rejected line: the lines before it are applied, none after it."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    importer = _Importer(tickets, quality, tz=tz, defaults=defaults or {}, strict=strict)
    with path.open("rb") as lines, fewer_collections():
        for batch, covered in _batches(lines, batch_size):
            if batch:
                importer.apply(batch)
            if on_lines:
                on_lines(covered)
            if importer.report.stopped:
                break
    return importer.report
