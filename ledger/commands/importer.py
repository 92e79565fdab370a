"""``ledger import``: a JSON-lines file of commands, applied in order, in batches, resumable.

Ticket commands go to the :class:`TicketService`, return visit, corrective action and
complaint commands to the :class:`QualityService`. A line that makes a new record (a
``report``, ``visit_schedule``, ``action_raise`` or ``complaint_receive``) may carry a
``ref``; later lines may name it wherever a number goes (``ticket``, ``visit``,
``action``, ``complaint``, ``links``, and ``reference`` about a ticket). A bad line
rejects only itself (unless ``strict``); the report says which lines and why.

**Batches.** Up to ``batch_size`` lines are planned one after the other by the services'
own ``plan`` (validation, role, domain rules, numbering), each against the store *as the
batch's earlier lines leave it* (``commands/staging.py``: their events are staged in
memory, not saved), and the batch's events are saved in **one** ``app.save``: one
transaction, one stretch of the hash chain. A batch that meets a concurrent writer (an
integrity error: a number or a version taken first) is planned once more from fresh
state; if it meets one again, its lines go one per transaction, each retried as
``ledger ticket ...`` would be.

**Resumable.** Every applied line's idempotency key (:func:`command_key`) is saved in the
same transaction as its events (``ledger_commands``, ``ledger/storage/chain.py``), with
the number of the record it made or changed. A batch's keys are looked up all at once
after planning it; if one is recorded the batch is planned again with each line's key
looked up (primary key) before the line: a recorded key is counted ``already_applied`` and
its ref restored from the stored number, so re-running a file after a crash appends
nothing twice.
"""

from __future__ import annotations

from collections import ChainMap, Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.commands.application import (
    REPORT_ATTEMPTS,
    ConcurrentChange,
    LedgerApplication,
    NotFound,
)
from ledger.commands.contracts import ContractService
from ledger.commands.import_lines import (
    NEW_RECORDS,
    checked_command_id,
    content_digest,
    content_key,
    parse_line,
    read_line,
    resolve_refs,
)
from ledger.commands.models import AnyCommand, CommandError
from ledger.commands.quality import QualityService
from ledger.commands.quality_models import QualityCommand, QualityCommandBase
from ledger.commands.staging import KnownStates, Staged
from ledger.commands.tickets import TicketService
from ledger.domain.errors import DomainError
from ledger.domain.numbering import Series
from ledger.domain.ticket import Reported, TicketEvent
from ledger.gc_tuning import fewer_collections
from ledger.storage.chain import CommandKey, RecordedTimeBackwards
from ledger.storage.recorders import chain_position, recorded_commands
from ledger.timeutil import show_error

if TYPE_CHECKING:
    from ledger.domain.model import DomainEvent
    from ledger.projections.base import ProjectionRunner

DEFAULT_BATCH = 500
FEED_EVENTS = 4000
"""Saved events gathered before the read models are given them (see ``_Importer._feed``)."""
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


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class _Line:
    number: int
    raw: bytes


@dataclass
class _Batch:
    """One attempt at a batch: its staged events, and what it adds to the report once they
    are saved (refs and counts on top of the report's, dropped if the save fails)."""

    staged: Staged
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
        projections: ProjectionRunner | None = None,
    ) -> None:
        self.tickets = tickets
        self.projections = projections
        self.unfed: list[tuple[int, DomainEvent]] = []
        self.quality = quality
        if not isinstance(tickets.store, LedgerApplication):
            raise TypeError("an import saves to the event store itself: give it its services")
        self.app = tickets.store
        self.tz = tz
        self.defaults = defaults
        self.strict = strict
        self.report = ImportReport()
        self.occurrences: Counter[bytes] = Counter()
        self.known = KnownStates()
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
        self._feed(batch.staged.written)
        return True

    def _feed(self, written: Sequence[tuple[int, DomainEvent]]) -> None:
        """Give the read models the saved events (not the log read back): gathered over
        batches up to :data:`FEED_EVENTS`, so that a ticket several batches touch is judged
        once, as a catch-up's larger pages would; those before a gap (another writer's
        events in between) go first."""
        if self.projections is None:
            return
        if self.unfed and written and written[0][0] != self.unfed[-1][0] + 1:
            self.flush()
        self.unfed.extend(written)
        if len(self.unfed) >= FEED_EVENTS:
            self.flush()

    def flush(self) -> None:
        """Feed the read models what is gathered (what they cannot take, catch_up reads)."""
        if self.projections is not None and self.unfed:
            self.projections.follow(self.unfed)
        self.unfed = []

    def _conflicted(self, line: _Line, batch: _Batch, reason: str) -> _Batch:
        """What a line that kept meeting concurrent changes adds: its rejection."""
        rejected = _Batch(Staged(self.app), ChainMap(), ChainMap(dict(batch.made)))
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
        staged = Staged(self.app, self.known.at(head), head)
        contracts = ContractService(staged, self.quality.contracts.clock, keep_states=False)
        tickets = TicketService(staged, self.tickets.clock, self.tickets.tz, contracts.policy_at)
        quality = QualityService(staged, self.quality.clock, self.quality.tz, contracts, tickets)
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
            data = {**self.defaults, **read_line(line.raw)}
            command_id = checked_command_id(data.pop("command_id", None))
            if isinstance(data.get("command"), str) and data["command"] in NEW_RECORDS:
                batch.creating = True
                given = data.pop("ref", None)
                ref = None if given is None else str(given)
            resolve_refs(data, batch.refs, batch.failed_refs)
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
        staged: Staged,
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
    projections: ProjectionRunner | None = None,
) -> ImportReport:
    """Apply the file's lines in batches of ``batch_size``; ``on_lines(n)`` after each
    batch is saved, with the number of file lines it covered. With ``strict``, stop at the
    first rejected line: the lines before it are applied, none after it. ``projections``:
    the read models, given each saved batch's events (what they miss, ``catch_up`` reads)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    importer = _Importer(
        tickets, quality, tz=tz, defaults=defaults or {}, strict=strict, projections=projections
    )
    if projections is not None:  # up to date before the first batch, so they can follow it
        projections.catch_up()
    with path.open("rb") as lines, fewer_collections():
        for batch, covered in _batches(lines, batch_size):
            if batch:
                importer.apply(batch)
            if on_lines:
                on_lines(covered)
            if importer.report.stopped:
                break
        importer.flush()
    return importer.report
