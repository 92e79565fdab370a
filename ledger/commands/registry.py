"""The one map of the ledger's commands: name → model, the events it records, its roles.

Everything else that lists commands derives from :data:`COMMANDS`: the import schema
(:func:`parse_command`, :func:`parse_quality_command`, ``ledger import``'s names), the
role matrix (:data:`ALLOWED`, :func:`authorise`), the write commands' CLI options and
help (``ledger ticket|visit|action|complaint ...``: ``cli/support.py``'s
``model_options``) and the word a ticket write prints. Adding a command is: its event
(which registers itself, ``domain/model.py``), its ``mutate``, the model with its
``decide``, and one entry here.

The roles follow docs/roles.md: a ticket command is allowed to its event's normal roles
(``domain/audit.py``), to what real practice adds (``roles.ALSO_ALLOWED``) and to admin;
a quality command names its roles (``roles.VISITORS``, ...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from functools import cache, reduce
from operator import or_
from typing import Annotated, Any, cast

from pydantic import Field, TypeAdapter

from ledger.commands import evidence_models as ev
from ledger.commands import models as m
from ledger.commands import progress_models as pm
from ledger.commands import quality_models as q
from ledger.domain import complaint as cp
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain import ticket as tk
from ledger.domain.audit import DESK, MANAGERS
from ledger.domain.model import DomainEvent
from ledger.domain.roles import (
    QUALITY_WORK,
    SUPERVISION,
    VISITORS,
    check_role,
    ticket_command_roles,
)
from ledger.domain.values import Role


@dataclass(frozen=True)
class Entry:
    """A command: its model, the events it records (the first is the one it is named
    after: a ticket command's audit norm is that event's) and who may issue it."""

    model: type[m.Command]
    events: tuple[type[DomainEvent], ...]
    roles: frozenset[Role]
    upload: bool = False
    """The command attaches a file (``evidence_models``): its edge stores the bytes and
    fills in the file's fields, so it has no generated CLI options, no generic HTTP
    endpoint and no import line."""

    @property
    def event(self) -> type[DomainEvent]:
        return self.events[0]


def _ticket(model: type[m.Command], *events: type[tk.TicketEvent], upload: bool = False) -> Entry:
    name = model.model_fields["command"].default
    return Entry(model, events, ticket_command_roles(name, events[0]), upload)


def _quality(
    model: type[m.Command],
    roles: Iterable[Role],
    *events: type[DomainEvent],
    upload: bool = False,
) -> Entry:
    return Entry(model, events, frozenset(roles), upload)


ADMIN = frozenset({Role.ADMIN})

TICKET_COMMANDS: Mapping[str, Entry] = {
    "report": _ticket(m.ReportTicket, tk.Reported, tk.OutOfContractNoted),
    "respond": _ticket(m.RespondToTicket, tk.Responded),
    "dispatch": _ticket(m.DispatchEngineer, tk.Dispatched),
    "arrive": _ticket(m.RecordArrival, tk.Arrived),
    "resolve": _ticket(m.ResolveTicket, tk.Resolved),
    "sign": _ticket(m.SignServiceForm, tk.CustomerSigned),
    "escalate": _ticket(m.EscalateTicket, tk.Escalated),
    "suspend": _ticket(m.SuspendTicket, tk.Suspended),
    "resume": _ticket(m.ResumeTicket, tk.Resumed),
    "replace": _ticket(m.ProvideReplacement, tk.ReplacementProvided),
    "reclassify": _ticket(m.ReclassifyTicket, tk.Reclassified),
    "close": _ticket(m.CloseTicket, tk.Closed),
    "reopen": _ticket(m.ReopenTicket, tk.Reopened),
    "cancel": _ticket(m.CancelTicket, tk.Cancelled),
    "contact_sheet": _ticket(m.RecordContactSheet, tk.WorkContactSheetRecorded),
    "attach": _ticket(ev.AttachToTicket, tk.EvidenceAttached, upload=True),
    "diagnose": _ticket(pm.ReportDiagnosis, tk.DiagnosisReported),
    "propose": _ticket(pm.ProposeSolution, tk.SolutionProposed),
    "start_repair": _ticket(pm.StartRepair, tk.RepairStarted),
    "temporary_measure": _ticket(pm.TakeTemporaryMeasure, tk.TemporaryMeasureTaken),
    "file_form": _ticket(pm.FileServiceForm, tk.ServiceFormFiled),
    "change_contact": _ticket(pm.ChangeContact, tk.ContactChanged),
    "set_off": _ticket(pm.RecordSetOff, tk.EngineerSetOff),
    "note": _ticket(pm.AddWorkNote, tk.WorkNoteAdded),
    "reply": _ticket(pm.ReplyToCustomer, tk.CustomerReplied),
}
"""The ticket commands (``ledger ticket ...``), in the order ``ledger import`` names them."""

QUALITY_COMMANDS: Mapping[str, Entry] = {
    "visit_schedule": _quality(q.ScheduleVisit, VISITORS, rv.VisitScheduled),
    "visit_conduct": _quality(q.ConductVisit, VISITORS, rv.VisitConducted),
    "visit_score": _quality(q.ScoreVisit, VISITORS, rv.SatisfactionScored),
    "visit_sign": _quality(q.SignVisit, VISITORS | {Role.CUSTOMER}, rv.VisitCustomerSigned),
    # The project manager's opinion.
    "visit_review": _quality(q.ReviewVisit, {*MANAGERS, Role.ADMIN}, rv.ManagerReviewed),
    "visit_chief_review": _quality(q.ChiefReviewVisit, rv.CHIEF_ENGINEER, rv.ChiefEngineerReviewed),
    # A failure also reopens the audited ticket.
    "visit_audit": _quality(q.AuditVisit, rv.AUDITORS, rv.AuditPassed, rv.AuditFailed, tk.Reopened),
    "visit_cancel": _quality(q.CancelVisit, VISITORS, rv.VisitCancelled),
    # The signed visit card: who makes visits, and the customer who signs it.
    "visit_attach": _quality(
        ev.AttachToVisit, VISITORS | {Role.CUSTOMER}, rv.EvidenceAttached, upload=True
    ),
    # Linked back from each visit and complaint it came from.
    "action_raise": _quality(
        q.RaiseAction,
        SUPERVISION,
        ca.QualityIssueRaised,
        rv.CorrectiveActionLinked,
        cp.CorrectiveActionLinked,
    ),
    "action_analyse": _quality(q.AnalyseAction, QUALITY_WORK | ADMIN, ca.CauseAnalysed),
    "action_plan": _quality(q.PlanAction, QUALITY_WORK | ADMIN, ca.ActionPlanned),
    "action_implement": _quality(q.ImplementAction, QUALITY_WORK | ADMIN, ca.ActionImplemented),
    "action_result": _quality(q.RecordActionResult, QUALITY_WORK | ADMIN, ca.ResultRecorded),
    "action_verify": _quality(q.VerifyAction, ca.VERIFIERS, ca.EffectivenessVerified),
    "action_attach": _quality(
        ev.AttachToAction, QUALITY_WORK | ADMIN, ca.EvidenceAttached, upload=True
    ),
    "action_close": _quality(
        q.CloseAction, {Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE, Role.ADMIN}, ca.ActionClosed
    ),
    "complaint_receive": _quality(
        q.ReceiveComplaint,
        {*DESK, Role.QUALITY, Role.CUSTOMER, Role.ADMIN},
        cp.ComplaintReceived,
    ),
    "complaint_analyse": _quality(q.AnalyseComplaint, SUPERVISION, cp.ComplaintAnalysed),
    "complaint_resolve": _quality(q.ResolveComplaint, SUPERVISION, cp.ComplaintResolved),
    "complaint_close": _quality(q.CloseComplaint, SUPERVISION, cp.ComplaintClosed),
}
"""Return visit, corrective action and complaint commands (``ledger visit|action|complaint``)."""

COMMANDS: Mapping[str, Entry] = {**TICKET_COMMANDS, **QUALITY_COMMANDS}
"""Every command of a ``ledger import`` line."""

OTHER_WRITES: Mapping[str, frozenset[Role]] = {
    "contract_load": ADMIN,
    "calendar_load": ADMIN,
    "notify_rules_load": ADMIN,
    "sweep": frozenset({Role.SYSTEM}),
    "user_grant": ADMIN,
    "user_reissue": ADMIN,
    "user_revoke": ADMIN,
    "privacy_erase": ADMIN,
    "privacy_sweep": frozenset({Role.SYSTEM, Role.ADMIN}),
}
"""The writes that are no import line: reference data and API users are administration,
the sweep is the system's."""

ALLOWED: Mapping[str, frozenset[Role]] = {
    **{name: entry.roles for name, entry in COMMANDS.items()},
    **OTHER_WRITES,
}
"""The role matrix: command name (as in ``ledger import`` lines, or one of
:data:`OTHER_WRITES`) → the roles that may issue it."""

TICKET_EVENTS: Mapping[str, type[DomainEvent]] = {n: e.event for n, e in TICKET_COMMANDS.items()}
"""The ticket event each ticket command records: its audit norm is the command's."""

COMMAND_NAMES: tuple[str, ...] = tuple(TICKET_COMMANDS)
QUALITY_COMMAND_NAMES: tuple[str, ...] = tuple(QUALITY_COMMANDS)
CREATING: Mapping[str, type[m.Command]] = {
    name: entry.model
    for name, entry in QUALITY_COMMANDS.items()
    if not issubclass(entry.model, q.RecordCommand)
}
"""The quality commands that make a new numbered record (an import line may give them a
``ref``)."""


def authorise(command_name: str, role: Role, *, actor: str | None = None) -> None:
    """Refuse (``Forbidden``) a command its role may not issue (deny by default)."""
    check_role(command_name, ALLOWED.get(command_name), role, actor=actor)


def _tagged(entries: Mapping[str, Entry]) -> TypeAdapter[Any]:
    """A discriminated union (by ``command``) of the entries' models."""
    union = reduce(or_, (entry.model for entry in entries.values()))
    tagged: Any = Annotated[union, Field(discriminator="command")]
    return TypeAdapter(tagged)


@cache
def _ticket_adapter() -> TypeAdapter[Any]:
    """Built on the first command parsed, not at import (issue 18: start-up)."""
    return _tagged(TICKET_COMMANDS)


@cache
def _quality_adapter() -> TypeAdapter[Any]:
    return _tagged(QUALITY_COMMANDS)


def build_parsers() -> None:
    """Build the command unions now rather than on the first command parsed: for a long
    run that will parse many (the benchmark before its clock starts; ``ledger serve``)."""
    _ticket_adapter()
    _quality_adapter()


def parse_command(data: dict[str, Any], tz: tzinfo) -> m.AnyCommand:
    """Validate one ticket command dict; raise ``CommandError`` listing every problem."""
    return cast(m.AnyCommand, m.parse_tagged(_ticket_adapter(), COMMAND_NAMES, data, tz))


def parse_quality_command(data: dict[str, Any], tz: tzinfo) -> q.QualityCommand:
    """Validate one quality command dict; raise ``CommandError`` listing every problem."""
    return cast(
        q.QualityCommand, m.parse_tagged(_quality_adapter(), QUALITY_COMMAND_NAMES, data, tz)
    )
