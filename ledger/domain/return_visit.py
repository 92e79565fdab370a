"""The ReturnVisit aggregate (回访): seed 000's visit card and survey, seed 003's audit.

A visit is scheduled (by phone or on site, for a customer and contract, maybe for a
ticket), then conducted; the card then collects, in any order, the satisfaction scores
(顾客意见调查表), the customer's signature and the project manager's opinion, and after that
opinion 总工办's. A visit attached to a ticket is the quality department's audit of that
ticket's service form and ends with ``AuditPassed`` or ``AuditFailed``. A quality problem
found on the visit raises a corrective action, recorded here as ``CorrectiveActionLinked``.

Commands are plain functions ``decide_*(visit, stamp, ...) -> event`` in the style of
:mod:`ledger.domain.ticket`: they return the one event that records the fact, or raise
:class:`RuleViolation` and record nothing. ``mutate`` folds events into state.

Scores are kept as given; the total and band are derived
(:mod:`ledger.domain.satisfaction`), never stored. A second ``SatisfactionScored`` is a correction:
it needs a ``correction_reason`` and replaces the scores (the first stays in the log).

Over 500 lines: one aggregate's events, state, rules and ``mutate``, read together, as
:mod:`ledger.domain.ticket`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from functools import singledispatch
from typing import Annotated
from uuid import UUID

from ledger.domain import evidence as ev
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
from ledger.domain.numbering import Reference, Series, new_link, reference_in
from ledger.domain.privacy import Personal
from ledger.domain.satisfaction import SatisfactionScores
from ledger.domain.values import Role, VisitPurpose

# --------------------------------------------------------------------------- vocabularies


class VisitForm(StrEnum):
    """The card's 回访形式."""

    PHONE = "phone"  # 电话回访
    ON_SITE = "on-site"  # 现场回访


class VisitStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONDUCTED = "conducted"
    CANCELLED = "cancelled"


class Review(Immutable):
    """An opinion on the card: the project manager's or 总工办's."""

    opinion: str
    reviewer: str
    reviewed_at: UtcDatetime


class Audit(Immutable):
    """The quality department's verdict on a ticket's service form."""

    passed: bool
    comment: str | None  # the reason of a failure, the note of a pass
    auditor: str
    audited_at: UtcDatetime


# --------------------------------------------------------------------------- events


class VisitEvent(DomainEvent):
    """Base of every ReturnVisit event."""

    abstract = True


class VisitScheduled(VisitEvent):
    number: ShortText
    customer: ShortText
    contract_id: ShortText
    ticket_id: UUID | None = None
    ticket_number: ShortText | None = None
    form: VisitForm
    planned_at: UtcDatetime
    visitor: ShortText
    purpose: VisitPurpose | None = None


class VisitConducted(VisitEvent):
    content: Text
    customer_opinion: Text | None = None


class SatisfactionScored(VisitEvent):
    scores: SatisfactionScores
    correction_reason: Text | None = None


class VisitCustomerSigned(VisitEvent):
    signer: Annotated[ShortText, Personal()]


class ManagerReviewed(VisitEvent):
    opinion: Text


class ChiefEngineerReviewed(VisitEvent):
    opinion: Text


class AuditPassed(VisitEvent):
    note: Text | None = None


class AuditFailed(VisitEvent):
    reason: Text


class VisitCancelled(VisitEvent):
    reason: Text


class CorrectiveActionLinked(VisitEvent):
    action_id: UUID
    action_number: ShortText


class EvidenceAttached(VisitEvent, EvidenceFacts):
    """A file attached to the visit (the signed visit card, a photo): its hash, not its
    bytes."""


VISIT_EVENT_TYPES: tuple[type[VisitEvent], ...] = recorded_events(VisitEvent)
"""Every recorded event of VisitEvent: the classes register themselves."""


# --------------------------------------------------------------------------- state


class ReturnVisit(Aggregate):
    number: str
    customer: str
    contract_id: str
    ticket_id: UUID | None
    ticket_number: str | None
    form: VisitForm
    purpose: VisitPurpose | None
    planned_at: datetime
    visitor: str
    status: VisitStatus
    scheduled_at: datetime
    conducted_at: datetime | None = None
    content: str | None = None
    customer_opinion: str | None = None
    scores: SatisfactionScores | None = None
    scored_at: datetime | None = None
    score_corrections: int = 0
    signer: str | None = None
    signed_at: datetime | None = None
    manager_review: Review | None = None
    chief_engineer_review: Review | None = None
    audit: Audit | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    corrective_actions: tuple[Reference, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    @property
    def is_audit(self) -> bool:
        """Attached to a ticket: the quality department's audit of its service form."""
        return self.ticket_id is not None


# --------------------------------------------------------------------------- decisions

AUDITORS = (Role.QUALITY,)
CHIEF_ENGINEER = (Role.CHIEF_ENGINEER_OFFICE,)


def _require_conducted(visit: ReturnVisit, action: str) -> datetime:
    """The guard of everything on the card after the visit itself; returns its time."""
    if visit.status is VisitStatus.CANCELLED:
        raise RuleViolation(f"return visit {visit.number} is cancelled: cannot {action}")
    if visit.conducted_at is None:
        raise RuleViolation(
            f"return visit {visit.number} has not been conducted: cannot {action} yet"
        )
    return visit.conducted_at


def _require_first(done: object, visit: ReturnVisit, what: str) -> None:
    if done is not None:
        raise RuleViolation(f"return visit {visit.number} already has {what}")


def decide_schedule(
    number: str,
    stamp: Stamp,
    *,
    customer: str,
    contract_id: str,
    form: VisitForm,
    planned_at: datetime,
    visitor: str,
    ticket_number: str | None = None,
    purpose: VisitPurpose | None = None,
) -> VisitScheduled:
    """A new visit, id derived from its number. A visit for a ticket is that ticket's
    audit: its purpose is ``ticket_audit`` (the default then), and an audit needs a ticket."""
    ticket_id = None
    if ticket_number is not None:
        ticket_id = reference_in(Series.TICKET, ticket_number).id
        if purpose not in (None, VisitPurpose.TICKET_AUDIT):
            raise RuleViolation(
                f"a visit for ticket {ticket_number} is the audit of its service form, "
                f"not a {VisitPurpose(purpose).value} visit"
            )
        purpose = VisitPurpose.TICKET_AUDIT
    elif purpose is VisitPurpose.TICKET_AUDIT:
        raise RuleViolation("a ticket audit visit needs the ticket it audits")
    check_times(stamp)
    return VisitScheduled(
        **stamp.envelope(Series.VISIT.id_for(number), 1),
        number=number,
        customer=customer,
        contract_id=contract_id,
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        form=form,
        planned_at=planned_at,
        visitor=visitor,
        purpose=purpose,
    )


def decide_conduct(
    visit: ReturnVisit, stamp: Stamp, content: str, customer_opinion: str | None = None
) -> VisitConducted:
    if visit.status is VisitStatus.CANCELLED:
        raise RuleViolation(f"return visit {visit.number} is cancelled: cannot conduct it")
    if visit.conducted_at is not None:
        raise RuleViolation(
            f"return visit {visit.number} was already conducted at ", visit.conducted_at
        )
    check_times(stamp, visit.scheduled_at, "the scheduling")
    return next_event(
        VisitConducted, visit, stamp, content=content, customer_opinion=customer_opinion
    )


def decide_score(
    visit: ReturnVisit,
    stamp: Stamp,
    *,
    engineering_quality: int,
    progress: int,
    service: int,
    performance_capability: int,
    correction_reason: str | None = None,
) -> SatisfactionScored:
    """The survey's four scores. Scoring again is a correction and needs a reason."""
    conducted_at = _require_conducted(visit, "score it")
    scores = SatisfactionScores(
        engineering_quality=engineering_quality,
        progress=progress,
        service=service,
        performance_capability=performance_capability,
    )
    if visit.scores is None:
        if correction_reason is not None:
            raise RuleViolation(
                f"return visit {visit.number} has no scores yet: there is nothing to correct"
            )
        check_times(stamp, conducted_at, "the visit")
    else:
        if correction_reason is None:
            raise RuleViolation(
                f"return visit {visit.number} is already scored: a correction needs a reason"
            )
        if scores == visit.scores:
            raise RuleViolation(
                f"return visit {visit.number} already has these scores: nothing to correct"
            )
        check_times(stamp, visit.scored_at, "the previous scores")
    return next_event(
        SatisfactionScored, visit, stamp, scores=scores, correction_reason=correction_reason
    )


def decide_sign(visit: ReturnVisit, stamp: Stamp, signer: str) -> VisitCustomerSigned:
    conducted_at = _require_conducted(visit, "have it signed")
    _require_first(visit.signer, visit, f"the customer's signature ({visit.signer})")
    check_times(stamp, conducted_at, "the visit")
    return next_event(VisitCustomerSigned, visit, stamp, signer=signer)


def decide_manager_review(visit: ReturnVisit, stamp: Stamp, opinion: str) -> ManagerReviewed:
    conducted_at = _require_conducted(visit, "review it")
    _require_first(visit.manager_review, visit, "the project manager's opinion")
    check_times(stamp, conducted_at, "the visit")
    return next_event(ManagerReviewed, visit, stamp, opinion=opinion)


def decide_chief_engineer_review(
    visit: ReturnVisit, stamp: Stamp, opinion: str
) -> ChiefEngineerReviewed:
    """总工办's opinion, after the project manager's."""
    require_role(stamp, CHIEF_ENGINEER, f"give 总工办's opinion on return visit {visit.number}")
    _require_conducted(visit, "review it")
    if visit.manager_review is None:
        raise RuleViolation(
            f"return visit {visit.number} has no project manager's opinion yet: "
            "总工办 reviews after the project manager"
        )
    _require_first(visit.chief_engineer_review, visit, "总工办's opinion")
    check_times(stamp, visit.manager_review.reviewed_at, "the project manager's review")
    return next_event(ChiefEngineerReviewed, visit, stamp, opinion=opinion)


def _check_audit(visit: ReturnVisit, stamp: Stamp) -> None:
    require_role(stamp, AUDITORS, f"audit return visit {visit.number}")
    if not visit.is_audit:
        raise RuleViolation(
            f"return visit {visit.number} is not attached to a ticket: "
            "there is no service form to audit"
        )
    conducted_at = _require_conducted(visit, "audit it")
    if visit.audit is not None:
        verdict = "passed" if visit.audit.passed else "failed"
        raise RuleViolation(f"return visit {visit.number} already {verdict} its audit")
    check_times(stamp, conducted_at, "the visit")


def decide_audit_pass(visit: ReturnVisit, stamp: Stamp, note: str | None = None) -> AuditPassed:
    _check_audit(visit, stamp)
    return next_event(AuditPassed, visit, stamp, note=note)


def decide_audit_fail(visit: ReturnVisit, stamp: Stamp, reason: str) -> AuditFailed:
    """The service form fails: the ticket goes back (the service reopens it)."""
    _check_audit(visit, stamp)
    return next_event(AuditFailed, visit, stamp, reason=reason)


def decide_cancel(visit: ReturnVisit, stamp: Stamp, reason: str) -> VisitCancelled:
    if visit.status is VisitStatus.CANCELLED:
        raise RuleViolation(f"return visit {visit.number} is already cancelled")
    if visit.conducted_at is not None:
        raise RuleViolation(
            f"return visit {visit.number} was conducted at ",
            visit.conducted_at,
            ": a visit that took place cannot be cancelled",
        )
    check_times(stamp, visit.scheduled_at, "the scheduling")
    return next_event(VisitCancelled, visit, stamp, reason=reason)


def decide_attach(visit: ReturnVisit, stamp: Stamp, facts: EvidenceFacts) -> EvidenceAttached:
    """A file attached to the visit (the signed card, a photo): not to a cancelled visit,
    which has no card; not before the scheduling."""
    if visit.status is VisitStatus.CANCELLED:
        raise RuleViolation(f"return visit {visit.number} is cancelled: cannot attach a file")
    return ev.decide_attach(
        EvidenceAttached,
        visit,
        f"return visit {visit.number}",
        visit.evidence,
        stamp,
        facts,
        not_before=visit.scheduled_at,
        since="the visit was scheduled",
    )


def decide_link_action(
    visit: ReturnVisit, stamp: Stamp, action_number: str
) -> CorrectiveActionLinked:
    """A quality problem found on the visit raised corrective action ``action_number``."""
    conducted_at = _require_conducted(visit, "link a corrective action")
    holder = f"return visit {visit.number}"
    action = new_link(Series.CORRECTIVE_ACTION, action_number, visit.corrective_actions, holder)
    check_times(stamp, conducted_at, "the visit")
    return next_event(
        CorrectiveActionLinked, visit, stamp, action_id=action.id, action_number=action.number
    )


# --------------------------------------------------------------------------- evolution


@singledispatch
def mutate(event: VisitEvent, visit: ReturnVisit | None) -> ReturnVisit:
    raise TypeError(f"no mutator for {type(event).__name__}")


@mutate.register
def _(event: VisitScheduled, _: ReturnVisit | None) -> ReturnVisit:
    return ReturnVisit.started_by(
        event,
        status=VisitStatus.SCHEDULED,
        scheduled_at=event.occurred_at,
    )


@mutate.register
def _(event: VisitConducted, visit: ReturnVisit | None) -> ReturnVisit:
    return evolve(
        visit,
        event,
        status=VisitStatus.CONDUCTED,
        conducted_at=event.occurred_at,
        content=event.content,
        customer_opinion=event.customer_opinion,
    )


@mutate.register
def _(event: SatisfactionScored, visit: ReturnVisit | None) -> ReturnVisit:
    assert visit is not None
    corrections = visit.score_corrections + (event.correction_reason is not None)
    return evolve(
        visit,
        event,
        scores=event.scores,
        scored_at=event.occurred_at,
        score_corrections=corrections,
    )


@mutate.register
def _(event: VisitCustomerSigned, visit: ReturnVisit | None) -> ReturnVisit:
    return evolve(visit, event, signer=event.signer, signed_at=event.occurred_at)


def _review(event: ManagerReviewed | ChiefEngineerReviewed) -> Review:
    return Review(opinion=event.opinion, reviewer=event.actor, reviewed_at=event.occurred_at)


@mutate.register
def _(event: ManagerReviewed, visit: ReturnVisit | None) -> ReturnVisit:
    return evolve(visit, event, manager_review=_review(event))


@mutate.register
def _(event: ChiefEngineerReviewed, visit: ReturnVisit | None) -> ReturnVisit:
    return evolve(visit, event, chief_engineer_review=_review(event))


@mutate.register
def _(event: AuditPassed, visit: ReturnVisit | None) -> ReturnVisit:
    audit = Audit(
        passed=True, comment=event.note, auditor=event.actor, audited_at=event.occurred_at
    )
    return evolve(visit, event, audit=audit)


@mutate.register
def _(event: AuditFailed, visit: ReturnVisit | None) -> ReturnVisit:
    audit = Audit(
        passed=False, comment=event.reason, auditor=event.actor, audited_at=event.occurred_at
    )
    return evolve(visit, event, audit=audit)


@mutate.register
def _(event: VisitCancelled, visit: ReturnVisit | None) -> ReturnVisit:
    return evolve(
        visit,
        event,
        status=VisitStatus.CANCELLED,
        cancelled_at=event.occurred_at,
        cancel_reason=event.reason,
    )


@mutate.register
def _(event: CorrectiveActionLinked, visit: ReturnVisit | None) -> ReturnVisit:
    assert visit is not None
    action = Reference(
        series=Series.CORRECTIVE_ACTION, number=event.action_number, id=event.action_id
    )
    return evolve(visit, event, corrective_actions=(*visit.corrective_actions, action))


@mutate.register
def _(event: EvidenceAttached, visit: ReturnVisit | None) -> ReturnVisit:
    assert visit is not None
    return evolve(visit, event, evidence=(*visit.evidence, evidence_of(event)))


def project_visit(visit: ReturnVisit | None, events: object) -> ReturnVisit | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, visit, events, VisitEvent)
