"""What the escalation sweep owes one ticket at a given moment. Pure: no I/O, no clock.

``ledger sweep`` (``ledger/commands/sweep.py``) calls :func:`sweep_ticket` for every open
ticket with the policy in force at the ticket's report and the sweep's stamp (actor
``system:sweep``, role ``system``, ``occurred_at`` = the sweep's now). The answer is a
function of the ticket's state and that now, so a second sweep at the same now owes
nothing, and a sweep that lost a race to another one owes nothing once it re-reads.

Every due time comes from the SLA clock (``judge_ticket`` and ``deadline``), so the sweep
can never disagree with ``ticket show`` or ``report sla`` (docs/sla.md, "Escalation
sweep"):

* **Escalation ladder** (``[escalation]``, by :attr:`EscalationLevel.rank`): a ticket
  neither responded to nor resolved climbs to a level once its respond due time plus the
  level's threshold has passed; a metric the contract declares with ``escalate = true``
  climbs it the same way from its own due time, while it is not done (the earliest of these
  due times counts). ``chief_engineer_office`` (总工办) is for technical problems: a defect
  ticket not resolved at the sweep climbs there once its *resolve* due time plus the
  threshold has passed. One ``Escalated`` per level climbed, lowest first.
* **Replacement unit**: the replacement target (built in, or as the contract redefines it)
  judged ``overdue`` (no unit, never resolved, past due) → ``ReplacementFlagged`` with the
  target and its due time.
* **Declared metrics overdue**: any other metric the contract declares (a diagnosis report,
  a temporary measure, ...) judged ``overdue`` → ``MetricOverdueNoted``, once per metric.
* **Notices** (``[notices]``): a ticket still unclosed ``inspection`` after its report →
  ``InspectionNoticeIssued``; ``rectification`` after its report, once it has an
  inspection notice → ``RectificationNoticeIssued`` (both at once when both have passed).

Thresholds run on the contract's clock, pauses included, like every target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial

from ledger.domain.calendar import CalendarError, WorkCalendar
from ledger.domain.compliance import (
    Judgement,
    contract_coverage,
    judge_ticket,
    ticket_pauses,
    time_used,
)
from ledger.domain.contract import Policy
from ledger.domain.metrics import BUILTIN_METRICS, METRIC_WORDS_ZH
from ledger.domain.model import Stamp
from ledger.domain.sla import Coverage, Pause, SlaStatus, deadline, parse_target, target_zh
from ledger.domain.ticket import (
    Ticket,
    TicketEvent,
    at_risk_key,
    mutate,
)
from ledger.domain.ticket_progress import decide_note_overdue
from ledger.domain.ticket_rules import (
    decide_escalate,
    decide_flag_replacement,
    decide_inspection_notice,
    decide_rectification_notice,
    decide_warn_at_risk,
)
from ledger.domain.values import Category, EscalationLevel

LEVEL_NAMES_ZH = {
    EscalationLevel.ENGINEER: "工程师",
    EscalationLevel.DEPARTMENT_MANAGER: "部门经理",
    EscalationLevel.PROJECT_GENERAL_MANAGER: "项目总经理",
    EscalationLevel.CHIEF_ENGINEER_OFFICE: "总工办",
}


class SweepKind(StrEnum):
    ESCALATED = "escalated"
    REPLACEMENT_FLAGGED = "replacement_flagged"
    INSPECTION_NOTICE = "inspection_notice"
    RECTIFICATION_NOTICE = "rectification_notice"
    AT_RISK = "at_risk"
    METRIC_OVERDUE = "metric_overdue"


@dataclass(frozen=True)
class SweepAction:
    """One fact the sweep records: the event, why (one line), and since when it was owed."""

    kind: SweepKind
    event: TicketEvent
    why: str
    since: datetime
    """The instant (UTC) the threshold was passed."""


@dataclass
class _Plan:
    """The ticket as the planned events leave it, and those events in order."""

    ticket: Ticket
    stamp: Stamp
    coverage: Coverage
    pauses: tuple[Pause, ...]
    actions: list[SweepAction] = field(default_factory=list)

    @property
    def now(self) -> datetime:
        return self.stamp.occurred_at

    def passed(self, threshold: str, start: datetime | None) -> datetime | None:
        """When ``threshold`` after ``start`` fell due on the contract's clock, if it has
        by now; ``None`` if not yet, if the clock is stopped or the calendar is missing."""
        if start is None:
            return None
        try:
            due = deadline(parse_target(threshold), start, self.coverage, self.pauses)
        except CalendarError:
            return None
        return due if due is not None and due <= self.now else None

    def add(
        self,
        kind: SweepKind,
        decide: Callable[[Ticket, Stamp], TicketEvent],
        why: str,
        since: datetime,
    ) -> None:
        event = decide(self.ticket, self.stamp)
        self.actions.append(SweepAction(kind, event, why, since))
        self.ticket = mutate(event, self.ticket)


def sweep_ticket(
    ticket: Ticket,
    policy: Policy,
    official: WorkCalendar,
    stamp: Stamp,
    at_risk: Sequence[int] = (),
) -> list[SweepAction]:
    """The events the sweep owes ``ticket`` at ``stamp.occurred_at``, in order (each at
    the next version); empty when it owes nothing. Raises ``RuleViolation`` only when the
    stamp itself is refused (e.g. a time in the future)."""
    if not ticket.is_open:
        return []
    plan = _Plan(ticket, stamp, contract_coverage(policy, official), ticket_pauses(ticket, policy))
    judged = {j.metric: j for j in judge_ticket(ticket, policy, official, plan.now)}
    _climb_ladder(plan, policy, judged)
    _flag_replacement(plan, judged.get("replacement"), policy)
    _note_overdue(plan, judged)
    _issue_notices(plan, policy)
    _warn_at_risk(plan, policy, official, judged, at_risk)
    return plan.actions


def _climb_ladder(plan: _Plan, policy: Policy, judged: dict[str, Judgement]) -> None:
    for level, threshold in sorted(policy.escalation.items(), key=lambda item: item[0].rank):
        if level.rank <= plan.ticket.escalation_level.rank:
            continue
        metric, due = _ladder_start(level, plan.ticket, policy, judged)
        since = plan.passed(threshold, due)
        if since is None:
            continue
        reason = _escalation_reason(level, threshold, metric)
        plan.add(
            SweepKind.ESCALATED,
            partial(decide_escalate, to_level=level, reason=reason),
            reason,
            since,
        )


def _ladder_start(
    level: EscalationLevel, ticket: Ticket, policy: Policy, judged: dict[str, Judgement]
) -> tuple[str, datetime | None]:
    """The metric and due time a level's threshold counts from (``None``: it does not
    apply): the response while unanswered, or the earliest due time of a metric declared
    ``escalate = true`` and not done; for 总工办, a defect's resolve due time."""
    if ticket.is_resolved:
        return "respond", None
    if level is EscalationLevel.CHIEF_ENGINEER_OFFICE:
        if ticket.category is not Category.DEFECT:
            return "resolve", None
        judgement = judged.get("resolve")
        return "resolve", None if judgement is None else judgement.due_at
    starts: list[tuple[datetime, str]] = []
    respond = judged.get("respond")
    if ticket.responded_at is None and respond is not None and respond.due_at is not None:
        starts.append((respond.due_at, "respond"))
    definitions = policy.metric_definitions
    for metric, judgement in judged.items():
        waiting = judgement.status in (SlaStatus.PENDING, SlaStatus.OVERDUE)
        if metric != "respond" and definitions[metric].escalate and waiting and judgement.due_at:
            starts.append((judgement.due_at, metric))
    if not starts:
        return "respond", None
    due, metric = min(starts)
    return metric, due


def _escalation_reason(level: EscalationLevel, threshold: str, metric: str = "respond") -> str:
    name = LEVEL_NAMES_ZH[level]
    if level is EscalationLevel.CHIEF_ENGINEER_OFFICE:
        return (
            f"修复超时 {target_zh(threshold)}：技术问题未解决，自动升级至{name} "
            f"(not resolved {threshold} after the resolve due time)"
        )
    if metric != "respond":
        words = METRIC_WORDS_ZH.get(metric, metric)
        return (
            f"{words}超时 {target_zh(threshold)}：自动升级至{name} "
            f"({metric} overdue by {threshold})"
        )
    return f"响应超时 {target_zh(threshold)}：自动升级至{name} (response overdue by {threshold})"


def _flag_replacement(plan: _Plan, judgement: Judgement | None, policy: Policy) -> None:
    if judgement is None or judgement.status is not SlaStatus.OVERDUE:
        return
    due = judgement.due_at
    if due is None or plan.ticket.replacement_flagged_at is not None or plan.ticket.is_resolved:
        return
    target = judgement.target
    if policy.metric_definitions["replacement"] == BUILTIN_METRICS["replacement"]:
        why = (
            f"未在 {target} 内修复：应提供备用设备 (not fixed {target} after the report: "
            "a replacement unit is owed)"
        )
    else:  # the contract's own clock (seed 004: from 8 h after the repair started)
        why = (
            f"备用设备应于 {target_zh(target)}内提供，已超时 "
            f"(a replacement unit was due within {target} and is overdue)"
        )
    plan.add(
        SweepKind.REPLACEMENT_FLAGGED,
        lambda t, s: decide_flag_replacement(t, s, target, due),
        why,
        due,
    )


def _note_overdue(plan: _Plan, judged: dict[str, Judgement]) -> None:
    """Each metric the contract declares beyond the built-in four (which have the ladder and
    the replacement flag), once it is overdue: one ``MetricOverdueNoted``."""
    for metric, judgement in judged.items():
        due = judgement.due_at
        if metric in BUILTIN_METRICS or judgement.status is not SlaStatus.OVERDUE or due is None:
            continue
        if metric in plan.ticket.overdue_noted:
            continue
        words = METRIC_WORDS_ZH.get(metric, metric)
        plan.add(
            SweepKind.METRIC_OVERDUE,
            partial(decide_note_overdue, metric=metric, target=judgement.target, due_at=due),
            f"{words}超时（时限 {target_zh(judgement.target)}）(the {metric} target "
            f"{judgement.target} is overdue)",
            due,
        )


def _issue_notices(plan: _Plan, policy: Policy) -> None:
    """Inspection, then rectification: each once its threshold has passed since the report
    (if the contract sets it), the second only after the first."""
    notices: tuple[tuple[SweepKind, str | None, _NoticeDecider, str], ...] = (
        (
            SweepKind.INSPECTION_NOTICE,
            policy.notices.inspection,
            decide_inspection_notice,
            "检查单",
        ),
        (
            SweepKind.RECTIFICATION_NOTICE,
            policy.notices.rectification,
            decide_rectification_notice,
            "整改通知单",
        ),
    )
    for kind, threshold, decide, name in notices:
        if threshold is None or not _notice_owed(kind, plan.ticket, plan.now):
            continue
        since = plan.passed(threshold, plan.ticket.reported_at)
        if since is not None:
            plan.add(
                kind,
                _at_threshold(decide, threshold),
                f"报修后 {target_zh(threshold)}未关闭：{name} "
                f"(unclosed {threshold} after the report)",
                since,
            )


_NoticeDecider = Callable[[Ticket, Stamp, str], TicketEvent]


def _at_threshold(decide: _NoticeDecider, threshold: str) -> Callable[[Ticket, Stamp], TicketEvent]:
    return lambda ticket, stamp: decide(ticket, stamp, threshold)


def _notice_owed(kind: SweepKind, ticket: Ticket, now: datetime) -> bool:
    if kind is SweepKind.INSPECTION_NOTICE:
        return ticket.inspection_notice_at is None
    issued = ticket.inspection_notice_at
    return issued is not None and issued <= now and ticket.rectification_notice_at is None


def _warn_at_risk(
    plan: _Plan,
    policy: Policy,
    official: WorkCalendar,
    judged: dict[str, Judgement],
    thresholds: Sequence[int],
) -> None:
    """临近超时: each pending target that has used a threshold's share of its covered time
    (on the contract's clock: hours, holidays, 调休 and pauses as its due time counts them)
    is warned once per threshold; a target already past due is the ladder's business."""
    for metric, judgement in judged.items():
        if judgement.status is not SlaStatus.PENDING or judgement.due_at is None:
            continue
        used = None
        for threshold in sorted(thresholds):
            if at_risk_key(metric, threshold) in plan.ticket.at_risk_warned:
                continue
            used = used or time_used(plan.ticket, policy, official, metric, plan.now)
            if used is None or used.share * 100 < threshold or used.share >= 1:
                continue
            due, target = judgement.due_at, judgement.target
            percent, left = int(used.share * 100), int(used.left.total_seconds() // 60)
            plan.add(
                SweepKind.AT_RISK,
                partial(
                    decide_warn_at_risk,
                    metric=metric,
                    target=target,
                    threshold=threshold,
                    used_percent=percent,
                    due_at=due,
                    left_minutes=left,
                ),
                f"{metric} 时限已用 {percent}%（剩余 {left} 分钟）：临近超时 "
                f"({metric} has used {percent}% of its time, {left} min left)",
                plan.now,
            )
