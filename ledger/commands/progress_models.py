"""Command models of the progress facts declared SLA metrics measure (diagnosis, solution,
repair start, temporary measure, service form filed, contact change) and of setting off for
the site (the phone's "on my way"): each decides its one
event with :mod:`ledger.domain.ticket_progress`. Apart from ``models.py`` by concept."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from ledger.commands.models import LocationFields, TicketCommand
from ledger.domain import ticket as rules
from ledger.domain import ticket_progress
from ledger.domain.model import ShortText, Stamp, Text
from ledger.domain.ticket import Contact, Phone, Sha256, Ticket
from ledger.timeutil import localise, parse_iso, zone


class ReportDiagnosis(TicketCommand):
    """Record the fault diagnosis report given to the customer (故障诊断报告, seed 001)."""

    command: Literal["diagnose"] = "diagnose"
    report: Text = Field(description="What was found, or where the report is kept.")

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_diagnose(ticket, stamp, self.report)


class ProposeSolution(TicketCommand):
    """Record a solution proposed to the customer (提出解决方案, seed 001)."""

    command: Literal["propose"] = "propose"
    solution: Text = Field(description="The solution proposed (for a consultation: the answer).")

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_propose(ticket, stamp, self.solution)


class StartRepair(TicketCommand):
    """Record that the engineer started the repair (检修, seed 004)."""

    command: Literal["start_repair"] = "start_repair"
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_start_repair(ticket, stamp, self.note)


class TakeTemporaryMeasure(TicketCommand):
    """Record a temporary measure while the fault is not solved (临时措施, seed 003)."""

    command: Literal["temporary_measure"] = "temporary_measure"
    measure: Text = Field(description="The temporary measure taken.")

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_temporary_measure(ticket, stamp, self.measure)


class FileServiceForm(TicketCommand):
    """Record the service form signed by the customer as filed (服务记录单归档, seed 004)."""

    command: Literal["file_form"] = "file_form"
    form: ShortText = Field(description="The filed form's number or reference.")
    evidence_sha256: Sha256 | None = Field(
        default=None,
        description=(
            "SHA-256 (hex) of the scanned form, a file attached to the ticket "
            "(kind signed-form or fax)."
        ),
    )

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_file_form(ticket, stamp, self.form, self.evidence_sha256)


class ChangeContact(TicketCommand):
    """Record the notice of a change of the supplier's contact person (seed 000)."""

    command: Literal["change_contact"] = "change_contact"
    contact_name: ShortText = Field(description="The new contact person.")
    contact_phone: Phone
    changed_at: datetime = Field(description="When the contact changed (ISO 8601; naive = --tz).")
    note: Text | None = None

    @field_validator("changed_at", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return parse_iso(value) if isinstance(value, str) else value

    @field_validator("changed_at", mode="after")
    @classmethod
    def _zoned(cls, value: datetime, info: ValidationInfo) -> datetime:
        return localise(value, (info.context or {}).get("tz") or zone(None))

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        contact = Contact(name=self.contact_name, phone=self.contact_phone)
        return ticket_progress.decide_change_contact(
            ticket, stamp, contact, self.changed_at, self.note
        )


class RecordSetOff(TicketCommand, LocationFields):
    """Record that the dispatched engineer set off for the site (在途, "on my way")."""

    command: Literal["set_off"] = "set_off"
    engineer: ShortText | None = Field(
        default=None, description="Default: the dispatched engineer."
    )

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_set_off(ticket, stamp, self.engineer, self.location())


class AddWorkNote(TicketCommand):
    """Add an internal work note (工作备注; never shown to the customer)."""

    command: Literal["note"] = "note"
    text: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_work_note(ticket, stamp, self.text)


class ReplyToCustomer(TicketCommand):
    """Record a reply to the customer (回复客户; visible to them)."""

    command: Literal["reply"] = "reply"
    text: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_progress.decide_customer_reply(ticket, stamp, self.text)
