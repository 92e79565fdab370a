"""Command models: the one input boundary shared by the CLI and ``ledger import``.

A command is a dict of the same fields the CLI takes (``{"command": "dispatch",
"ticket": "T-2026-000001", "engineer": "王工", "at": "2026-10-08T09:30"}``), validated
here. A naive ``at`` means the zone given in the validation context.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ledger.domain import ticket as rules
from ledger.domain import ticket_rules
from ledger.domain.contract import Policy
from ledger.domain.model import DomainEvent, ShortText, Stamp, Text
from ledger.domain.numbering import ticket_id_for
from ledger.domain.ticket import Contact, Fee, Geolocation, Phone, Sha256, Ticket
from ledger.domain.values import (
    Category,
    Channel,
    EscalationLevel,
    ResolutionMode,
    Role,
    Severity,
    SignatureKind,
)
from ledger.timeutil import localise, parse_iso, zone


class CommandError(ValueError):
    """A command could not be read: every problem, each with its field path."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Unicode's control characters (category ``Cc``) except tab and newline: one regex search
per text instead of a category lookup per character."""


class Command(BaseModel):
    # defer_build: built on first use, not at import (issue 18; see domain.model.Immutable).
    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, defer_build=True
    )

    if TYPE_CHECKING:
        command: str  # each model's own literal name, its tag in the registry
    actor: ShortText
    role: Role
    at: datetime | None = Field(
        default=None, description="when it happened (occurred_at); default: now"
    )

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        """Text goes into reports, terminals and the feed: a bell or an escape sequence in a
        name would travel with it. Tab and newline are text; other control characters are not."""
        for text in value if isinstance(value, list | tuple) else (value,):
            if isinstance(text, str):
                bad = CONTROL_CHARACTER.search(text)
                if bad is not None:
                    raise ValueError(
                        f"contains a control character (U+{ord(bad.group()):04X}); "
                        "only tab and newline are allowed"
                    )
        return value

    @field_validator("at", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        return parse_iso(value) if isinstance(value, str) else value

    @field_validator("at", mode="after")
    @classmethod
    def _in_zone(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is None:
            return None
        tz = (info.context or {}).get("tz") or zone(None)
        return localise(value, tz)


class TicketCommand(Command):
    """A command on an existing ticket: it decides the one event it records."""

    ticket: ShortText = Field(description="ticket number (T-2026-000123) or id")

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        """The event this command records on ``ticket`` (or ``RuleViolation``)."""
        raise NotImplementedError


class ReportTicket(Command):
    """Open a ticket (报修): the hotline records the fault."""

    command: Literal["report"] = "report"
    contract: ShortText = Field(description="Contract id.")
    customer: ShortText | None = Field(
        default=None, description="Default: the contract's customer."
    )
    contact_name: ShortText
    contact_phone: Phone
    site: ShortText = Field(description="Site / address.")
    device: ShortText = Field(description="Faulty device or system.")
    category: Category = Category.DEFECT
    severity: Severity = Severity.GENERAL
    description: Text
    channel: Channel = Channel.PHONE
    external_ref: ShortText | None = Field(
        default=None, description="The customer's or a legacy system's reference."
    )

    def decide(self, number: str, policy: Policy, stamp: Stamp) -> list[DomainEvent]:
        """The new ticket ``number``'s report, and its out-of-contract note when the
        contract's ``policy`` does not cover the day it is reported."""
        reported = ticket_rules.decide_report(
            ticket_id_for(number),
            number,
            stamp,
            contract_id=self.contract,
            customer=self.customer or policy.customer,
            contact=Contact(name=self.contact_name, phone=self.contact_phone),
            site=self.site,
            device=self.device,
            category=self.category,
            severity=self.severity,
            description=self.description,
            channel=self.channel,
            external_ref=self.external_ref,
        )
        noted = ticket_rules.decide_coverage(
            rules.mutate(reported, None),
            stamp,
            reported_on=stamp.occurred_at.astimezone(policy.zone).date(),
            warranty_start=policy.warranty.start,
            warranty_end=policy.warranty.last_day,
        )
        return [reported] if noted is None else [reported, noted]


class RespondToTicket(TicketCommand):
    """Record the first human response to the customer (响应)."""

    command: Literal["respond"] = "respond"
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_respond(ticket, stamp, self.note)


class DispatchEngineer(TicketCommand):
    """Assign an engineer (派单); dispatch again to re-assign."""

    command: Literal["dispatch"] = "dispatch"
    engineer: ShortText
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_dispatch(ticket, stamp, self.engineer, self.note)


class LocationFields(BaseModel):
    """Where the phone was (optional): latitude and longitude together, the accuracy only
    with them; flat fields, so the CLI has an option for each."""

    latitude: float | None = Field(
        default=None, ge=-90, le=90, description="Where the phone was: degrees north (WGS 84)."
    )
    longitude: float | None = Field(
        default=None, ge=-180, le=180, description="Where the phone was: degrees east (WGS 84)."
    )
    accuracy: float | None = Field(
        default=None, ge=0, le=100_000, description="The position's accuracy in metres."
    )

    @model_validator(mode="after")
    def _whole_position(self) -> Any:
        if (self.latitude is None) != (self.longitude is None):
            missing = "longitude" if self.longitude is None else "latitude"
            raise ValueError(f"{missing}: is required with the other coordinate")
        if self.accuracy is not None and self.latitude is None:
            raise ValueError("accuracy: needs latitude and longitude")
        return self

    def location(self) -> Geolocation | None:
        if self.latitude is None or self.longitude is None:
            return None
        return Geolocation(
            latitude=self.latitude, longitude=self.longitude, accuracy_m=self.accuracy
        )


class RecordArrival(TicketCommand, LocationFields):
    """Record the engineer's arrival on site (到达现场)."""

    command: Literal["arrive"] = "arrive"
    engineer: ShortText | None = Field(
        default=None, description="Default: the dispatched engineer."
    )

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_arrive(ticket, stamp, self.engineer, self.location())


class ResolveTicket(TicketCommand):
    """Record the fix (修复), remote or on site."""

    command: Literal["resolve"] = "resolve"
    summary: Text
    mode: ResolutionMode = ResolutionMode.ON_SITE

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_resolve(ticket, stamp, self.summary, self.mode)


class SignServiceForm(TicketCommand):
    """Record the customer's signature on the service form (客户签字确认)."""

    command: Literal["sign"] = "sign"
    signer: ShortText
    kind: SignatureKind = SignatureKind.CUSTOMER
    evidence_sha256: Sha256 | None = Field(
        default=None,
        description="SHA-256 (hex) of the signature image attached to the ticket (kind "
        "signature), when the customer signed on a screen.",
    )

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_sign(ticket, stamp, self.signer, self.kind, self.evidence_sha256)


class EscalateTicket(TicketCommand):
    """Escalate up the ladder (升级)."""

    command: Literal["escalate"] = "escalate"
    to: EscalationLevel
    reason: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_escalate(ticket, stamp, self.to, self.reason)


class SuspendTicket(TicketCommand):
    """Pause the clocks, e.g. waiting for the customer."""

    command: Literal["suspend"] = "suspend"
    reason: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_suspend(ticket, stamp, self.reason)


class ResumeTicket(TicketCommand):
    """Restart the clocks after a suspension."""

    command: Literal["resume"] = "resume"
    reason: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_resume(ticket, stamp, self.reason)


class ProvideReplacement(TicketCommand):
    """Record a replacement (loaner) unit provided (备用设备)."""

    command: Literal["replace"] = "replace"
    unit: ShortText = Field(description="Model and serial of the loaner unit.")
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_replace(ticket, stamp, self.unit, self.note)


class ReclassifyTicket(TicketCommand):
    """Change severity and/or category, with a reason."""

    command: Literal["reclassify"] = "reclassify"
    severity: Severity | None = None
    category: Category | None = None
    reason: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_reclassify(
            ticket, stamp, self.reason, self.severity, self.category
        )


class CloseTicket(TicketCommand):
    """Close a resolved and signed ticket."""

    command: Literal["close"] = "close"
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_close(ticket, stamp, self.note)


class ReopenTicket(TicketCommand):
    """Reopen a resolved or closed ticket."""

    command: Literal["reopen"] = "reopen"
    reason: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_reopen(ticket, stamp, self.reason)


class CancelTicket(TicketCommand):
    """Cancel a ticket (no further events)."""

    command: Literal["cancel"] = "cancel"
    reason: Text

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_cancel(ticket, stamp, self.reason)


class RecordContactSheet(TicketCommand):
    """Record the work contact sheet (工作联系单) of an out-of-contract ticket, its fee
    confirmed by the customer: needed before dispatch."""

    command: Literal["contact_sheet"] = "contact_sheet"
    sheet: ShortText = Field(description="The sheet's number or reference.")
    fee: Fee = Field(description="The confirmed fee in yuan (元), e.g. 800 or 1200.50.")
    confirmed_by: ShortText = Field(description="Who confirmed the fee for the customer.")
    note: Text | None = None

    def decide(self, ticket: Ticket, stamp: Stamp) -> rules.TicketEvent:
        return ticket_rules.decide_contact_sheet(
            ticket, stamp, self.sheet, self.fee, self.confirmed_by, self.note
        )


AnyCommand = ReportTicket | TicketCommand
"""A ticket command (the models and their names: ``ledger/commands/registry.py``)."""
T = TypeVar("T")


Loc = tuple[int | str, ...]


def key_path(loc: Loc) -> str:
    """``("targets", "major", "resolve")`` → ``targets.major.resolve``; ``("holidays", 3)``
    → ``holidays[3]``."""
    path = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe_validation_error(
    error: ValidationError, *, tagged: bool = False, locate: Callable[[Loc], str] = key_path
) -> list[str]:
    """One readable line per problem: ``field.path: message (got 'value')``.

    ``tagged``: the first part of each path is a union's tag (the command name), not a field.
    ``locate``: how a location becomes the path shown (default :func:`key_path`).
    """
    problems = []
    for item in error.errors(include_url=False):
        path = locate(item["loc"][1:] if tagged else item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            problems.append(f"{path}: is required")
            continue
        if item["type"] == "extra_forbidden":
            problems.append(f"{path}: unknown field")
            continue
        got = item.get("input")
        shown = repr(got) if isinstance(got, str | int | float) else ""
        if shown and str(got) in message:
            shown = ""  # the message already quotes it
        if shown and len(shown) > 60:
            shown = shown[:57] + "...'"
        problem = f"{path}: {message}" if path else message
        problems.append(problem + (f" (got {shown})" if shown else ""))
    return problems


def check_command_name(data: dict[str, Any], names: Sequence[str]) -> str:
    """The command dict's ``command``, which must be one of ``names``."""
    if not isinstance(data, dict):
        raise CommandError(["a command must be a JSON object"])
    name = data.get("command")
    if name not in names:
        raise CommandError([f"command: must be one of {', '.join(names)} (got {name!r})"])
    return str(name)


def parse_tagged(
    adapter: TypeAdapter[T], names: Sequence[str], data: dict[str, Any], tz: tzinfo
) -> T:
    """Validate one command dict against a union of command models tagged by ``command``
    (one of ``names``); raise :class:`CommandError` listing every problem."""
    check_command_name(data, names)
    try:
        return adapter.validate_python(data, context={"tz": tz})
    except ValidationError as e:
        raise CommandError(describe_validation_error(e, tagged=True)) from None
