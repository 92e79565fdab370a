"""``ledger import``: a JSON-lines file of commands, applied in order, each atomically.

A bad line rejects only itself (unless ``strict``); the report says which lines and why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any

import orjson

from ledger.commands.models import CommandError, ReportTicket, parse_command
from ledger.commands.service import ConcurrentChange, TicketNotFound, TicketService
from ledger.domain.errors import DomainError


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
    failed_refs: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
            "stopped": self.stopped,
            "tickets": self.refs,
        }


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


def _resolve_ref(data: dict[str, Any], report: ImportReport) -> None:
    """A ``ticket`` naming a ref of an earlier report line becomes that ticket's number."""
    name = data.get("ticket")
    if not isinstance(name, str | int):
        return
    key = str(name)
    if key in report.refs:
        data["ticket"] = report.refs[key]
    elif key in report.failed_refs:
        raise TicketNotFound(
            f"ref {key!r} names no ticket: its report (line {report.failed_refs[key]}) was rejected"
        )


def import_commands(
    service: TicketService,
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
                ref = data.pop("ref", None) if data.get("command") == "report" else None
                ref = None if ref is None else str(ref)
                _resolve_ref(data, report)
                command = parse_command(data, tz)
                ticket = service.execute(command, retries=1)
                if isinstance(command, ReportTicket) and ref is not None:
                    report.refs[ref] = ticket.number
                report.applied += 1
            except (CommandError, DomainError, TicketNotFound, ConcurrentChange) as e:
                reason = "; ".join(e.problems) if isinstance(e, CommandError) else str(e)
                report.rejected.append(Rejection(number, reason))
                if ref is not None:
                    report.failed_refs[ref] = number
            if report.rejected and strict:
                report.stopped = True
                break
    return report
