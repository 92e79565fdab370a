"""Quality supervision's command models: return visits, corrective actions, complaints.

The input boundary shared by ``ledger visit|action|complaint ...`` and ``ledger import``.
A command on an existing record decides its one event (``decide``, calling the rules in
``ledger.domain.return_visit``, ``corrective_action`` and ``complaint``); the commands
that make a record or touch several are planned by :class:`~ledger.commands.quality.
QualityService`.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    model_validator,
)

from ledger.commands.models import Command
from ledger.domain import complaint as cp
from ledger.domain import corrective_action as ca
from ledger.domain import return_visit as rv
from ledger.domain.complaint import Complaint, ComplaintCategory, ComplaintSubject
from ledger.domain.corrective_action import CorrectiveAction, IssueSource
from ledger.domain.model import DomainEvent, ShortText, Stamp, Text
from ledger.domain.numbering import Series
from ledger.domain.return_visit import ReturnVisit, VisitForm
from ledger.domain.satisfaction import Score
from ledger.domain.values import Channel, VisitPurpose
from ledger.timeutil import localise, parse_iso, zone


def _local_time(value: datetime, info: ValidationInfo) -> datetime:
    return localise(value, (info.context or {}).get("tz") or zone(None))


LocalTime = Annotated[
    datetime,
    BeforeValidator(lambda v: parse_iso(v) if isinstance(v, str) else v),
    AfterValidator(_local_time),
]
"""A time as typed (ISO 8601; naive = the zone in the validation context), like ``at``."""


class QualityCommandBase(Command):
    """Base of every return visit, corrective action and complaint command."""


class RecordCommand(QualityCommandBase):
    """A command on an existing record, named by its number in the field ``subject``."""

    series: ClassVar[Series]
    subject: ClassVar[str]

    @property
    def number(self) -> str:
        return str(getattr(self, self.subject))

    def decide(self, record: Any, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        """The one event this command records on ``record`` (or ``RuleViolation``); ``tz``
        is the configured zone (a plan's due date is a local date in it)."""
        raise NotImplementedError


class VisitCommand(RecordCommand):
    series = Series.VISIT
    subject = "visit"
    visit: ShortText = Field(description="return visit number (V-2026-000001)")


class ActionCommand(RecordCommand):
    series = Series.CORRECTIVE_ACTION
    subject = "action"
    action: ShortText = Field(description="corrective action number (CA-2026-0001)")


class ComplaintCommand(RecordCommand):
    series = Series.COMPLAINT
    subject = "complaint"
    complaint: ShortText = Field(description="complaint number (C-2026-0001)")


class ScheduleVisit(QualityCommandBase):
    """Schedule a return visit."""

    command: Literal["visit_schedule"] = "visit_schedule"
    contract: ShortText | None = Field(
        default=None, description="Contract id. Default: the ticket's."
    )
    customer: ShortText | None = Field(
        default=None, description="Default: the ticket's, else the contract's."
    )
    ticket: ShortText | None = Field(
        default=None, description="The ticket whose service form the visit audits (质量部)."
    )
    form: VisitForm = VisitForm.PHONE
    planned_at: LocalTime | None = Field(
        default=None, description="When it is planned (ISO 8601). Default: --at / now."
    )
    visitor: ShortText = Field(description="Who makes the visit.")
    purpose: VisitPurpose | None = Field(
        default=None, description="Default: ticket_audit with --ticket, else none."
    )


class ConductVisit(VisitCommand):
    """Record the visit made: content, opinion."""

    command: Literal["visit_conduct"] = "visit_conduct"
    content: Text = Field(description="What was looked at and talked about.")
    customer_opinion: Text | None = Field(
        default=None, description="The customer's opinion (顾客意见)."
    )

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_conduct(visit, stamp, self.content, self.customer_opinion)


class ScoreVisit(VisitCommand):
    """Record the satisfaction survey's four scores (0–100)."""

    command: Literal["visit_score"] = "visit_score"
    engineering_quality: Score = Field(
        description="A 工程质量.", json_schema_extra={"cli": ["-a", "--engineering-quality"]}
    )
    progress: Score = Field(description="B 进度.", json_schema_extra={"cli": ["-b", "--progress"]})
    service: Score = Field(description="C 服务.", json_schema_extra={"cli": ["-c", "--service"]})
    performance_capability: Score = Field(
        description="D 履约能力.", json_schema_extra={"cli": ["-d", "--performance-capability"]}
    )
    correction_reason: Text | None = Field(
        default=None, description="Scoring again corrects the scores: say why."
    )

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_score(
            visit,
            stamp,
            engineering_quality=self.engineering_quality,
            progress=self.progress,
            service=self.service,
            performance_capability=self.performance_capability,
            correction_reason=self.correction_reason,
        )


class SignVisit(VisitCommand):
    """Record the customer's signature on the card."""

    command: Literal["visit_sign"] = "visit_sign"
    signer: ShortText

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_sign(visit, stamp, self.signer)


class ReviewVisit(VisitCommand):
    """Record the project manager's opinion."""

    command: Literal["visit_review"] = "visit_review"
    opinion: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_manager_review(visit, stamp, self.opinion)


class ChiefReviewVisit(VisitCommand):
    """Record 总工办's opinion (role chief_engineer_office; after the project manager's)."""

    command: Literal["visit_chief_review"] = "visit_chief_review"
    opinion: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_chief_engineer_review(visit, stamp, self.opinion)


class AuditVisit(VisitCommand):
    """The quality department's verdict on the ticket's service form (role quality).
    A failure reopens a resolved or closed ticket, with this visit as the cause."""

    command: Literal["visit_audit"] = "visit_audit"
    verdict: Literal["pass", "fail"] = Field(
        json_schema_extra={
            "flags": {"pass": "The form passes.", "fail": "The form fails (needs --reason)."}
        }
    )
    reason: Text | None = Field(default=None, description="Why it fails.")
    note: Text | None = Field(default=None, description="A note on a pass.")

    @model_validator(mode="after")
    def _reason_with_failure(self) -> AuditVisit:
        if self.verdict == "fail" and self.reason is None:
            raise ValueError("reason: a failed audit needs one")
        if self.verdict == "pass" and self.reason is not None:
            raise ValueError("reason: only a failed audit has one (a pass takes a note)")
        if self.verdict == "fail" and self.note is not None:
            raise ValueError("note: a failed audit takes a reason, not a note")
        return self


class CancelVisit(VisitCommand):
    """Cancel a visit that has not taken place."""

    command: Literal["visit_cancel"] = "visit_cancel"
    reason: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_cancel(visit, stamp, self.reason)


class RaiseAction(QualityCommandBase):
    """Raise a quality issue (质量信息); each visit and complaint it links gets the link
    back."""

    command: Literal["action_raise"] = "action_raise"
    content: Text = Field(description="The quality information.")
    source: IssueSource
    department: ShortText = Field(description="The responsible department.")
    links: tuple[ShortText, ...] = Field(
        default=(),
        description="A visit, complaint or ticket it came from (repeat).",
        json_schema_extra={"cli": ["--link"]},
    )


class AnalyseAction(ActionCommand):
    """Record the cause analysis (原因分析)."""

    command: Literal["action_analyse"] = "action_analyse"
    cause: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_analyse(action, stamp, self.cause)


class PlanAction(ActionCommand):
    """Record the corrective and preventive plan (after the analysis, or after a
    verification found the last plan not effective)."""

    command: Literal["action_plan"] = "action_plan"
    corrective: Text = Field(description="The corrective measures.")
    preventive: Text = Field(description="The preventive measures.")
    responsible: ShortText = Field(description="The responsible person.")
    due_on: date = Field(
        description="Due date (YYYY-MM-DD, in --tz).", json_schema_extra={"cli": ["--due"]}
    )

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_plan(
            action,
            stamp,
            corrective=self.corrective,
            preventive=self.preventive,
            responsible=self.responsible,
            due_on=self.due_on,
            time_zone=str(tz),
        )


class ImplementAction(ActionCommand):
    """Record the implementation."""

    command: Literal["action_implement"] = "action_implement"
    description: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_implement(action, stamp, self.description)


class RecordActionResult(ActionCommand):
    """Record the result."""

    command: Literal["action_result"] = "action_result"
    result: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_record_result(action, stamp, self.result)


class VerifyAction(ActionCommand):
    """Verify the effectiveness (role chief_engineer_office or quality); not effective → a
    new plan is due."""

    command: Literal["action_verify"] = "action_verify"
    effective: bool = Field(description="The verdict (required).")
    comment: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_verify(action, stamp, effective=self.effective, comment=self.comment)


class CloseAction(ActionCommand):
    """Close an action verified effective."""

    command: Literal["action_close"] = "action_close"
    note: Text | None = None

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_close(action, stamp, self.note)


class ReceiveComplaint(QualityCommandBase):
    """Record a complaint received."""

    command: Literal["complaint_receive"] = "complaint_receive"
    channel: Channel = Channel.PHONE
    customer: ShortText | None = Field(
        default=None, description="Default: the ticket's, else the contract's."
    )
    contract: ShortText | None = Field(
        default=None, description="Contract id. Default: the ticket's."
    )
    about: ComplaintSubject
    reference: ShortText = Field(description="The ticket number, the engineer or the product.")
    category: ComplaintCategory
    content: Text


class AnalyseComplaint(ComplaintCommand):
    """Record the cause and who is responsible."""

    command: Literal["complaint_analyse"] = "complaint_analyse"
    cause: Text
    department: ShortText = Field(description="The responsible department.")
    ours: bool = Field(description="Whether the cause lies with us (required).")

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_analyse(
            complaint, stamp, cause=self.cause, department=self.department, ours=self.ours
        )


class ResolveComplaint(ComplaintCommand):
    """Record the handling and the result reported."""

    command: Literal["complaint_resolve"] = "complaint_resolve"
    handling: Text
    result: Text = Field(description="The result as reported to the customer.")

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_resolve(complaint, stamp, handling=self.handling, result=self.result)


class CloseComplaint(ComplaintCommand):
    """Close a resolved complaint."""

    command: Literal["complaint_close"] = "complaint_close"
    note: Text | None = None

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_close(complaint, stamp, self.note)


QualityCommand = ScheduleVisit | RaiseAction | ReceiveComplaint | RecordCommand
"""A return visit, corrective action or complaint command (the models and their names:
``ledger/commands/registry.py``)."""
