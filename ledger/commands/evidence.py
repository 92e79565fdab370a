"""Attaching evidence files: the bytes into the store first, then the event.

The order is the point: a file stored with no event (the command then refused, or the
process killed between the two) is harmless, the store is content-addressed and holds it
once; an event naming a file the store lacks is what ``ledger verify`` reports. So
:meth:`EvidenceService.attach` checks the role and finds the record before it stores
anything (a refused command stores nothing), stores the bytes (size limit, media type
sniffed from the bytes), and only then records ``EvidenceAttached`` through the ticket or
quality service, which decide and save as for any command.

The CLI (``ledger ticket|visit|action attach``) and the HTTP API (``POST
/tickets/{ticket}/attachments``, ...) both attach through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.commands.quality import QualityService, Record
from ledger.commands.registry import COMMANDS, authorise, parse_command, parse_quality_command
from ledger.commands.tickets import TicketService
from ledger.domain.evidence import Evidence
from ledger.domain.numbering import Series
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role
from ledger.storage.evidence import EvidenceStore

ATTACH_COMMANDS = {"ticket": "attach", "visit": "visit_attach", "action": "action_attach"}
"""The record kind (the argument's name) → its attach command in the registry."""
SERIES = {"ticket": Series.TICKET, "visit": Series.VISIT, "action": Series.CORRECTIVE_ACTION}


@dataclass(frozen=True)
class Attached:
    """What an attach recorded: the record after it, and the file as its state lists it."""

    record: Ticket | Record
    evidence: Evidence


class EvidenceService:
    def __init__(
        self, store: EvidenceStore, tickets: TicketService, quality: QualityService
    ) -> None:
        self.store = store
        self.tickets = tickets
        self.quality = quality

    def record(self, kind: str, number: str) -> Ticket | Record:
        """The ticket, visit or action ``number`` (``TicketNotFound`` / ``RecordNotFound``)."""
        if kind == "ticket":
            return self.tickets.get(number)
        return self.quality.get(number, SERIES[kind])

    def attach(
        self,
        kind: str,
        number: str,
        data: bytes,
        *,
        file_name: str,
        evidence_kind: str,
        actor: str,
        role: Role,
        at: datetime | str | None = None,
    ) -> Attached:
        """Attach ``data`` (named ``file_name``) to the ``kind`` record ``number``: refuse
        the role first, find the record, store the bytes, then record the event."""
        command = ATTACH_COMMANDS[kind]
        assert COMMANDS[command].upload
        authorise(command, role, actor=actor)
        self.record(kind, number)
        stored = self.store.put(data, file_name)
        fields: dict[str, Any] = {
            "command": command,
            kind: number,
            "actor": actor,
            "role": role,
            "sha256": stored.sha256,
            "size": stored.size,
            "media_type": stored.media_type,
            "file_name": file_name,
            "kind": evidence_kind,
        }
        if at is not None:
            fields["at"] = at
        if kind == "ticket":
            ticket = self.tickets.execute(parse_command(fields, self.tickets.tz), retries=1)
            return Attached(ticket, ticket.evidence[-1])
        outcome = self.quality.execute(parse_quality_command(fields, self.quality.tz), retries=1)
        found = outcome.record
        assert not isinstance(found, Ticket) and hasattr(found, "evidence")
        return Attached(found, found.evidence[-1])
