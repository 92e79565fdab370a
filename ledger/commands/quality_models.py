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
from ledger.domain.return_visit import ReturnVisit, Score, VisitForm, VisitPurpose
from ledger.domain.values import Channel
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
    command: Literal["visit_schedule"] = "visit_schedule"
    contract: ShortText | None = Field(default=None, description="default: the ticket's")
    customer: ShortText | None = Field(
        default=None, description="default: the ticket's, else the contract's"
    )
    ticket: ShortText | None = Field(default=None, description="the ticket it audits")
    form: VisitForm = VisitForm.PHONE
    planned_at: LocalTime | None = Field(default=None, description="default: at / now")
    visitor: ShortText
    purpose: VisitPurpose | None = None


class ConductVisit(VisitCommand):
    command: Literal["visit_conduct"] = "visit_conduct"
    content: Text
    customer_opinion: Text | None = None

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_conduct(visit, stamp, self.content, self.customer_opinion)


class ScoreVisit(VisitCommand):
    command: Literal["visit_score"] = "visit_score"
    engineering_quality: Score
    progress: Score
    service: Score
    performance_capability: Score
    correction_reason: Text | None = None

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
    command: Literal["visit_sign"] = "visit_sign"
    signer: ShortText

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_sign(visit, stamp, self.signer)


class ReviewVisit(VisitCommand):
    command: Literal["visit_review"] = "visit_review"
    opinion: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_manager_review(visit, stamp, self.opinion)


class ChiefReviewVisit(VisitCommand):
    command: Literal["visit_chief_review"] = "visit_chief_review"
    opinion: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_chief_engineer_review(visit, stamp, self.opinion)


class AuditVisit(VisitCommand):
    command: Literal["visit_audit"] = "visit_audit"
    verdict: Literal["pass", "fail"]
    reason: Text | None = Field(default=None, description="why it fails (a failure needs one)")
    note: Text | None = Field(default=None, description="a pass's note")

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
    command: Literal["visit_cancel"] = "visit_cancel"
    reason: Text

    def decide(self, visit: ReturnVisit, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return rv.decide_cancel(visit, stamp, self.reason)


class RaiseAction(QualityCommandBase):
    command: Literal["action_raise"] = "action_raise"
    content: Text
    source: IssueSource
    department: ShortText
    links: tuple[ShortText, ...] = Field(
        default=(), description="numbers of the visits, complaints and tickets it came from"
    )


class AnalyseAction(ActionCommand):
    command: Literal["action_analyse"] = "action_analyse"
    cause: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_analyse(action, stamp, self.cause)


class PlanAction(ActionCommand):
    command: Literal["action_plan"] = "action_plan"
    corrective: Text
    preventive: Text
    responsible: ShortText
    due_on: date = Field(description="a local date in the configured zone")

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
    command: Literal["action_implement"] = "action_implement"
    description: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_implement(action, stamp, self.description)


class RecordActionResult(ActionCommand):
    command: Literal["action_result"] = "action_result"
    result: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_record_result(action, stamp, self.result)


class VerifyAction(ActionCommand):
    command: Literal["action_verify"] = "action_verify"
    effective: bool
    comment: Text

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_verify(action, stamp, effective=self.effective, comment=self.comment)


class CloseAction(ActionCommand):
    command: Literal["action_close"] = "action_close"
    note: Text | None = None

    def decide(self, action: CorrectiveAction, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return ca.decide_close(action, stamp, self.note)


class ReceiveComplaint(QualityCommandBase):
    command: Literal["complaint_receive"] = "complaint_receive"
    channel: Channel = Channel.PHONE
    customer: ShortText | None = Field(
        default=None, description="default: the ticket's, else the contract's"
    )
    contract: ShortText | None = Field(default=None, description="default: the ticket's")
    about: ComplaintSubject
    reference: ShortText = Field(description="the ticket number, engineer or product")
    category: ComplaintCategory
    content: Text


class AnalyseComplaint(ComplaintCommand):
    command: Literal["complaint_analyse"] = "complaint_analyse"
    cause: Text
    department: ShortText
    ours: bool

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_analyse(
            complaint, stamp, cause=self.cause, department=self.department, ours=self.ours
        )


class ResolveComplaint(ComplaintCommand):
    command: Literal["complaint_resolve"] = "complaint_resolve"
    handling: Text
    result: Text

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_resolve(complaint, stamp, handling=self.handling, result=self.result)


class CloseComplaint(ComplaintCommand):
    command: Literal["complaint_close"] = "complaint_close"
    note: Text | None = None

    def decide(self, complaint: Complaint, stamp: Stamp, *, tz: tzinfo) -> DomainEvent:
        return cp.decide_close(complaint, stamp, self.note)


QualityCommand = ScheduleVisit | RaiseAction | ReceiveComplaint | RecordCommand
"""A return visit, corrective action or complaint command (the models and their names:
``ledger/commands/registry.py``)."""
