"""The CorrectiveAction aggregate (纠正预防措施): the seven boxes of seed 000's card.

quality information (``QualityIssueRaised``) → cause analysis (``CauseAnalysed``) →
corrective and preventive plan with a responsible person and a due date
(``ActionPlanned``) → implementation (``ActionImplemented``) → result
(``ResultRecorded``) → verification of effectiveness by 总工办 or the quality department
(``EffectivenessVerified``) → ``ActionClosed``. The order is strict. A verification that
finds the action not effective sends it back to planning: the next event must be a new
``ActionPlanned`` (and the cycle runs again). Only an effective action can be closed.

Due dates are local dates, as written on the card: the plan stores ``due_on`` with the
``time_zone`` it is read in, so :meth:`CorrectiveAction.is_overdue` needs only ``now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import singledispatch
from zoneinfo import ZoneInfo

from ledger.domain.contract import ZoneName
from ledger.domain.errors import RuleViolation
from ledger.domain.evidence import Evidence, EvidenceFacts, evidence_of
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    Text,
    UtcDatetime,
    check_times,
    evolve,
    fold,
    next_event,
    recorded_events,
    require_role,
)
from ledger.domain.numbering import Reference, Series, reference
from ledger.domain.values import Role

# --------------------------------------------------------------------------- vocabularies


class IssueSource(StrEnum):
    """Where the quality information came from (the card's 信息来源)."""

    RETURN_VISIT = "return_visit"
    COMPLAINT = "complaint"
    TICKET = "ticket"
    INTERNAL_AUDIT = "internal_audit"


class ActionStage(StrEnum):
    """Where an action stands: the last box filled in (``not_effective``: a verification
    found it not effective, a new plan is due)."""

    RAISED = "raised"
    ANALYSED = "analysed"
    PLANNED = "planned"
    IMPLEMENTED = "implemented"
    RESULT_RECORDED = "result_recorded"
    VERIFIED = "verified"
    NOT_EFFECTIVE = "not_effective"
    CLOSED = "closed"


NEXT_STEP = {
    ActionStage.RAISED: "analyse its cause",
    ActionStage.ANALYSED: "plan the action",
    ActionStage.PLANNED: "record the implementation",
    ActionStage.IMPLEMENTED: "record the result",
    ActionStage.RESULT_RECORDED: "verify its effectiveness",
    ActionStage.VERIFIED: "close it",
    ActionStage.NOT_EFFECTIVE: "plan a new action (the last one was not effective)",
}
"""What an action in each open stage waits for."""

SOURCE_SERIES = {
    IssueSource.RETURN_VISIT: Series.VISIT,
    IssueSource.COMPLAINT: Series.COMPLAINT,
    IssueSource.TICKET: Series.TICKET,
}
"""The record an issue from each source must link to (an internal audit needs none)."""

LINKABLE = frozenset({Series.VISIT, Series.COMPLAINT, Series.TICKET})

VERIFIERS = (Role.CHIEF_ENGINEER_OFFICE, Role.QUALITY)
"""Who may verify effectiveness: 总工办 or the quality department (质量部 / 质保部)."""


class Plan(Immutable):
    """The current corrective and preventive plan."""

    corrective: str
    preventive: str
    responsible: str
    due_on: date
    time_zone: str
    planned_at: UtcDatetime

    @property
    def due_by(self) -> datetime:
        """The end of the due date in its zone (the first instant after it), in UTC."""
        return due_by(self.due_on, self.time_zone)


def due_by(due_on: date, time_zone: str) -> datetime:
    next_day = datetime.combine(due_on + timedelta(days=1), time(0), tzinfo=ZoneInfo(time_zone))
    return next_day.astimezone(UTC)


class Verification(Immutable):
    effective: bool
    comment: str
    verifier: str
    role: Role
    verified_at: UtcDatetime


# --------------------------------------------------------------------------- events


class ActionEvent(DomainEvent):
    """Base of every CorrectiveAction event."""

    abstract = True


class QualityIssueRaised(ActionEvent):
    number: ShortText
    content: Text
    source: IssueSource
    links: tuple[Reference, ...] = ()
    department: ShortText  # responsible department


class CauseAnalysed(ActionEvent):
    cause: Text


class ActionPlanned(ActionEvent):
    corrective: Text
    preventive: Text
    responsible: ShortText
    due_on: date
    time_zone: ZoneName


class ActionImplemented(ActionEvent):
    description: Text


class ResultRecorded(ActionEvent):
    result: Text


class EffectivenessVerified(ActionEvent):
    effective: bool
    comment: Text


class ActionClosed(ActionEvent):
    note: Text | None = None


class EvidenceAttached(ActionEvent, EvidenceFacts):
    """A file attached to the action (a report, a photo of the fix): its hash, not its
    bytes."""


ACTION_EVENT_TYPES: tuple[type[ActionEvent], ...] = recorded_events(ActionEvent)
"""Every recorded event of ActionEvent: the classes register themselves."""


# --------------------------------------------------------------------------- state


class CorrectiveAction(Aggregate):
    number: str
    content: str
    source: IssueSource
    links: tuple[Reference, ...]
    department: str
    stage: ActionStage
    raised_at: datetime
    last_step_at: datetime
    cause: str | None = None
    plan: Plan | None = None
    plans: int = 0
    implementation: str | None = None
    implemented_at: datetime | None = None
    result: str | None = None
    result_recorded_at: datetime | None = None
    verifications: tuple[Verification, ...] = ()
    closed_at: datetime | None = None
    evidence: tuple[Evidence, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.stage is not ActionStage.CLOSED

    def is_overdue(self, now: datetime) -> bool:
        """The current plan is not implemented by the end of its due date."""
        return (
            self.stage is ActionStage.PLANNED and self.plan is not None and now >= self.plan.due_by
        )


# --------------------------------------------------------------------------- decisions


def _require_stage(action: CorrectiveAction, doing: str, *allowed: ActionStage) -> None:
    if action.stage in allowed:
        return
    if action.stage is ActionStage.CLOSED:
        raise RuleViolation(f"corrective action {action.number} is closed: cannot {doing}")
    raise RuleViolation(
        f"corrective action {action.number} is {action.stage.value.replace('_', ' ')}: "
        f"cannot {doing} (next: {NEXT_STEP[action.stage]})"
    )


def _links(source: IssueSource, numbers: Sequence[str]) -> tuple[Reference, ...]:
    links: list[Reference] = []
    for number in numbers:
        try:
            link = reference(number)
        except ValueError as e:
            raise RuleViolation(str(e)) from None
        if link.series not in LINKABLE:
            raise RuleViolation(
                f"a quality issue links to the visit, complaint or ticket it came from, "
                f"not to {link.series.noun} {number}"
            )
        if link in links:
            raise RuleViolation(f"{link.series.noun} {number} is linked twice")
        links.append(link)
    wanted = SOURCE_SERIES.get(source)
    if wanted is not None and all(link.series is not wanted for link in links):
        raise RuleViolation(
            f"a quality issue from a {source.value.replace('_', ' ')} must link to the "
            f"{wanted.noun} it came from (e.g. {wanted.format_number(2026, 1)})"
        )
    return tuple(links)


def decide_raise(
    number: str,
    stamp: Stamp,
    *,
    content: str,
    source: IssueSource,
    department: str,
    links: Sequence[str] = (),
) -> QualityIssueRaised:
    """A new action, id derived from its number. ``links`` are the numbers of the visits,
    complaints and tickets it came from; one of them must be of the kind ``source`` says."""
    linked = _links(source, links)
    check_times(stamp)
    return QualityIssueRaised(
        **stamp.envelope(Series.CORRECTIVE_ACTION.id_for(number), 1),
        number=number,
        content=content,
        source=source,
        links=linked,
        department=department,
    )


def decide_analyse(action: CorrectiveAction, stamp: Stamp, cause: str) -> CauseAnalysed:
    _require_stage(action, "analyse its cause", ActionStage.RAISED)
    check_times(stamp, action.last_step_at, "the quality issue")
    return next_event(CauseAnalysed, action, stamp, cause=cause)


def decide_plan(
    action: CorrectiveAction,
    stamp: Stamp,
    *,
    corrective: str,
    preventive: str,
    responsible: str,
    due_on: date,
    time_zone: str,
) -> ActionPlanned:
    """The plan, after the analysis or after a verification found the last one not effective.
    ``due_on`` is a date in ``time_zone``, not before the day the plan is made."""
    _require_stage(action, "plan the action", ActionStage.ANALYSED, ActionStage.NOT_EFFECTIVE)
    what = "the analysis" if action.stage is ActionStage.ANALYSED else "the verification"
    check_times(stamp, action.last_step_at, what)
    event = next_event(
        ActionPlanned,
        action,
        stamp,
        corrective=corrective,
        preventive=preventive,
        responsible=responsible,
        due_on=due_on,
        time_zone=time_zone,
    )
    planned_on = stamp.occurred_at.astimezone(ZoneInfo(event.time_zone)).date()
    if due_on < planned_on:
        raise RuleViolation(
            f"corrective action {action.number}: due date {due_on} is before the plan "
            f"({planned_on} in {event.time_zone})"
        )
    return event


def decide_implement(action: CorrectiveAction, stamp: Stamp, description: str) -> ActionImplemented:
    _require_stage(action, "record the implementation", ActionStage.PLANNED)
    check_times(stamp, action.last_step_at, "the plan")
    return next_event(ActionImplemented, action, stamp, description=description)


def decide_record_result(action: CorrectiveAction, stamp: Stamp, result: str) -> ResultRecorded:
    _require_stage(action, "record the result", ActionStage.IMPLEMENTED)
    check_times(stamp, action.last_step_at, "the implementation")
    return next_event(ResultRecorded, action, stamp, result=result)


def decide_verify(
    action: CorrectiveAction, stamp: Stamp, *, effective: bool, comment: str
) -> EffectivenessVerified:
    """总工办 or the quality department judges the result; not effective → plan again."""
    require_role(stamp, VERIFIERS, f"verify the effectiveness of corrective action {action.number}")
    _require_stage(action, "verify its effectiveness", ActionStage.RESULT_RECORDED)
    check_times(stamp, action.last_step_at, "the result")
    return next_event(EffectivenessVerified, action, stamp, effective=effective, comment=comment)


def decide_close(action: CorrectiveAction, stamp: Stamp, note: str | None = None) -> ActionClosed:
    _require_stage(action, "close it", ActionStage.VERIFIED)
    check_times(stamp, action.last_step_at, "the verification")
    return next_event(ActionClosed, action, stamp, note=note)


# --------------------------------------------------------------------------- evolution


@singledispatch
def mutate(event: ActionEvent, action: CorrectiveAction | None) -> CorrectiveAction:
    raise TypeError(f"no mutator for {type(event).__name__}")


def _step(
    action: CorrectiveAction | None, event: ActionEvent, stage: ActionStage, **changes: object
) -> CorrectiveAction:
    return evolve(action, event, stage=stage, last_step_at=event.occurred_at, **changes)


@mutate.register
def _(event: QualityIssueRaised, _: CorrectiveAction | None) -> CorrectiveAction:
    return CorrectiveAction.started_by(
        event,
        stage=ActionStage.RAISED,
        raised_at=event.occurred_at,
        last_step_at=event.occurred_at,
    )


@mutate.register
def _(event: CauseAnalysed, action: CorrectiveAction | None) -> CorrectiveAction:
    return _step(action, event, ActionStage.ANALYSED, cause=event.cause)


@mutate.register
def _(event: ActionPlanned, action: CorrectiveAction | None) -> CorrectiveAction:
    assert action is not None
    plan = Plan(
        corrective=event.corrective,
        preventive=event.preventive,
        responsible=event.responsible,
        due_on=event.due_on,
        time_zone=event.time_zone,
        planned_at=event.occurred_at,
    )
    return _step(
        action,
        event,
        ActionStage.PLANNED,
        plan=plan,
        plans=action.plans + 1,
        implementation=None,
        implemented_at=None,
        result=None,
        result_recorded_at=None,
    )


@mutate.register
def _(event: ActionImplemented, action: CorrectiveAction | None) -> CorrectiveAction:
    return _step(
        action,
        event,
        ActionStage.IMPLEMENTED,
        implementation=event.description,
        implemented_at=event.occurred_at,
    )


@mutate.register
def _(event: ResultRecorded, action: CorrectiveAction | None) -> CorrectiveAction:
    return _step(
        action,
        event,
        ActionStage.RESULT_RECORDED,
        result=event.result,
        result_recorded_at=event.occurred_at,
    )


@mutate.register
def _(event: EffectivenessVerified, action: CorrectiveAction | None) -> CorrectiveAction:
    assert action is not None
    verification = Verification(
        effective=event.effective,
        comment=event.comment,
        verifier=event.actor,
        role=event.role,
        verified_at=event.occurred_at,
    )
    stage = ActionStage.VERIFIED if event.effective else ActionStage.NOT_EFFECTIVE
    return _step(action, event, stage, verifications=(*action.verifications, verification))


@mutate.register
def _(event: ActionClosed, action: CorrectiveAction | None) -> CorrectiveAction:
    return _step(action, event, ActionStage.CLOSED, closed_at=event.occurred_at)


@mutate.register
def _(event: EvidenceAttached, action: CorrectiveAction | None) -> CorrectiveAction:
    assert action is not None
    return evolve(action, event, evidence=(*action.evidence, evidence_of(event)))


def project_action(action: CorrectiveAction | None, events: object) -> CorrectiveAction | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, action, events, ActionEvent)
