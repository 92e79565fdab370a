"""``ledger import``: a JSON-lines file of commands, applied in order, each atomically.

Ticket commands go to the :class:`TicketService`, return visit, corrective action and
complaint commands to the :class:`QualityService`. A line that makes a new record (a
``report``, ``visit_schedule``, ``action_raise`` or ``complaint_receive``) may carry a
``ref``; later lines may name it wherever a number goes (``ticket``, ``visit``,
``action``, ``complaint``, ``links``, and ``reference`` about a ticket). A bad line
rejects only itself (unless ``strict``); the report says which lines and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

import orjson

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
from ledger.commands.service import ConcurrentChange, NotFound, TicketService
from ledger.domain.errors import DomainError
from ledger.domain.numbering import Series


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    applied: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    stopped: bool = False
    refs: dict[str, str] = field(default_factory=dict)
    failed_refs: dict[str, tuple[int, str]] = field(default_factory=dict)
    """A ref whose line was rejected: that line's number and command."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
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


def _number_for(name: object, report: ImportReport) -> object:
    """A ref of an earlier line becomes the number of the record it made."""
    if not isinstance(name, str | int):
        return name
    key = str(name)
    if key in report.failed_refs:
        line, command = report.failed_refs[key]
        raise NotFound(f"ref {key!r} names no {NEW_RECORDS[command]} (line {line}) was rejected")
    return report.refs.get(key, name)


def _resolve_refs(data: dict[str, Any], report: ImportReport) -> None:
    """Every field that names a record may name it by the ref of an earlier line."""
    for key in REF_FIELDS:
        if key in data:
            data[key] = _number_for(data[key], report)
    if data.get("about") == "ticket" and "reference" in data:
        data["reference"] = _number_for(data["reference"], report)
    if isinstance(data.get("links"), list):
        data["links"] = [_number_for(link, report) for link in data["links"]]


def _execute(
    command: AnyCommand | QualityCommand, tickets: TicketService, quality: QualityService
) -> str:
    """Apply one command (one retry on a concurrent change); the number of its record."""
    if isinstance(command, QualityCommandBase):
        return quality.execute(command, retries=1).record.number
    return tickets.execute(command, retries=1).number


def import_commands(
    tickets: TicketService,
    quality: QualityService,
    path: Path,
    *,
    tz: tzinfo,
    defaults: dict[str, str] | None = None,
    strict: bool = False,
    on_line: Callable[[], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            ref: str | None = None
            if on_line:
                on_line()
            if not raw.strip():
                continue
            try:
                data = {**(defaults or {}), **_read_line(raw)}
                ref = data.pop("ref", None) if data.get("command") in NEW_RECORDS else None
                ref = None if ref is None else str(ref)
                _resolve_refs(data, report)
                made = _execute(parse_line(data, tz), tickets, quality)
                if ref is not None:
                    report.refs[ref] = made
                report.applied += 1
            except (CommandError, DomainError, NotFound, ConcurrentChange) as e:
                reason = "; ".join(e.problems) if isinstance(e, CommandError) else str(e)
                report.rejected.append(Rejection(number, reason))
                if ref is not None:
                    report.failed_refs[ref] = (number, str(data.get("command")))
            if report.rejected and strict:
                report.stopped = True
                break
    return report
