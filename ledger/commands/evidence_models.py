"""The attach commands' models: an evidence file attached to a ticket, a return visit or a
corrective action.

Their file fields (hash, size, media type, name) are never typed by a person: the edge
(``ledger ticket attach T FILE``, ``POST /tickets/{ticket}/attachments``) stores the bytes
first (:class:`ledger.commands.evidence.EvidenceService`) and fills them in from what the
store found. So these are the registry's ``upload`` entries: no generated CLI options, no
generic HTTP endpoint, and no ``ledger import`` line (an import line carries no file).
"""

from __future__ import annotations

from datetime import tzinfo
from typing import ClassVar, Literal

from pydantic import Field

from ledger.commands.models import Command, TicketCommand
from ledger.commands.quality_models import ActionCommand, VisitCommand
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain import ticket_rules
from ledger.domain.evidence import (
    MAX_EVIDENCE_BYTES,
    EvidenceFacts,
    EvidenceKind,
    FileName,
    Sha256Hex,
    decide_attach,
)
from ledger.domain.model import ShortText, Stamp
from ledger.domain.ticket import Ticket, TicketEvent

FILE_FIELDS = frozenset({"sha256", "size", "media_type", "file_name"})
"""The fields the evidence store fills in from the bytes; the rest are options."""


class AttachFields(Command):
    """The fields every attach command has: the file as stored, and its kind."""

    sha256: Sha256Hex = Field(description="The file's SHA-256 (64 hex digits).")
    size: int = Field(ge=1, le=MAX_EVIDENCE_BYTES, description="The file's size in bytes.")
    media_type: ShortText = Field(description="Sniffed from the bytes.")
    file_name: FileName = Field(description="The original file name.")
    kind: EvidenceKind = Field(description="What the file is.")

    upload: ClassVar[bool] = True

    def facts(self) -> EvidenceFacts:
        return EvidenceFacts(
            sha256=self.sha256,
            size=self.size,
            media_type=self.media_type,
            file_name=self.file_name,
            kind=self.kind,
        )


class AttachToTicket(TicketCommand, AttachFields):
    """Attach an evidence file to a ticket (the signed service form, a signature, a photo, a
    fax): its SHA-256 goes into the hash chain, its bytes into the evidence store."""

    command: Literal["attach"] = "attach"

    def decide(self, ticket: Ticket, stamp: Stamp) -> TicketEvent:
        return ticket_rules.decide_attach(ticket, stamp, self.facts())


class AttachToVisit(VisitCommand, AttachFields):
    """Attach an evidence file to a return visit (the signed visit card, a photo): its SHA-256
    goes into the hash chain, its bytes into the evidence store."""

    command: Literal["visit_attach"] = "visit_attach"

    def decide(self, visit: rv.ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> rv.EvidenceAttached:
        return rv.decide_attach(visit, stamp, self.facts())


class AttachToAction(ActionCommand, AttachFields):
    """Attach an evidence file to a corrective action (a report, a photo of the fix): its
    SHA-256 goes into the hash chain, its bytes into the evidence store."""

    command: Literal["action_attach"] = "action_attach"

    def decide(
        self, action: ca.CorrectiveAction, stamp: Stamp, *, tz: tzinfo
    ) -> ca.EvidenceAttached:
        return decide_attach(
            ca.EvidenceAttached,
            action,
            f"corrective action {action.number}",
            action.evidence,
            stamp,
            self.facts(),
            not_before=action.raised_at,
            since="the quality issue",
        )
