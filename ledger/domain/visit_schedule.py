"""Periodic return visits a contract promises (seed 000's weekly contact, seed 001's
quarterly 巡检, seed 004's yearly survey and key-customer visit), and which are due.

A contract's ``visits`` table maps a periodic visit kind (:data:`PERIODIC`) to an interval
of whole days (``"7 days"``). The next visit of a kind is due one interval after the last
one of that kind was conducted, or after the warranty started when there was none yet.
Only contracts in warranty are owed visits. Pure functions: ``as_of`` is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

from ledger.domain.sla import WallClockDays, parse_target
from ledger.domain.values import VisitPurpose

if TYPE_CHECKING:
    from ledger.domain.contract import Contract, Policy

PERIODIC = (
    VisitPurpose.WEEKLY_CONTACT,
    VisitPurpose.INSPECTION_ROUND,
    VisitPurpose.SATISFACTION_SURVEY,
    VisitPurpose.KEY_CUSTOMER_VISIT,
)
"""The visit kinds a contract may schedule (an audit follows a ticket, not a calendar)."""


def visit_interval(text: str) -> timedelta:
    """``"7 days"`` → 7 days. A visit interval is written like a target but must be a whole
    number of days; ``ValueError`` says what is wrong."""
    target = parse_target(text)
    if not isinstance(target, WallClockDays):
        raise ValueError(f'"{text}" is not an interval of days (e.g. "7 days", "91 days")')
    return timedelta(days=target.days)


def periodic_kind(kind: VisitPurpose) -> VisitPurpose:
    """``kind`` if a contract may schedule it; ``ValueError`` otherwise."""
    if kind not in PERIODIC:
        kinds = ", ".join(k.value for k in PERIODIC)
        raise ValueError(f"{kind.value} visits are not periodic (periodic kinds: {kinds})")
    return kind


class DueStatus(StrEnum):
    OVERDUE = "overdue"  # due on a day before the as-of day
    DUE = "due"  # due on the as-of day
    UPCOMING = "upcoming"  # due after the as-of day


@dataclass(frozen=True)
class DueVisit:
    """The next visit of one kind a contract owes."""

    kind: VisitPurpose
    interval: str
    last_conducted_at: datetime | None
    """The last visit of this kind conducted for the contract (``None``: none yet)."""
    due_at: datetime
    status: DueStatus
    days_overdue: int
    """Whole local days between the due day and the as-of day (0 unless overdue)."""


def _start_of(day: date, policy: Policy) -> datetime:
    return datetime.combine(day, time(0), tzinfo=policy.zone).astimezone(UTC)


def visits_due(
    policy: Policy, last_conducted: Mapping[VisitPurpose, datetime], as_of: datetime
) -> list[DueVisit]:
    """The next visit of each kind ``policy`` schedules, soonest first, as of ``as_of``; none
    when the contract is not in warranty then. ``last_conducted``: per kind, when the
    contract's last visit of that kind was conducted."""
    today = as_of.astimezone(policy.zone).date()
    if not policy.warranty.covers(today):
        return []
    start = _start_of(policy.warranty.start, policy)
    found = []
    for kind, interval in policy.visits.items():
        last = last_conducted.get(kind)
        due_at = max(start, last or start) + visit_interval(interval)
        due_day = due_at.astimezone(policy.zone).date()
        if due_day < today:
            status = DueStatus.OVERDUE
        elif due_day == today:
            status = DueStatus.DUE
        else:
            status = DueStatus.UPCOMING
        overdue = (today - due_day).days if status is DueStatus.OVERDUE else 0
        found.append(DueVisit(kind, interval, last, due_at.astimezone(UTC), status, overdue))
    return sorted(found, key=lambda d: (d.due_at, d.kind.value))


@dataclass(frozen=True)
class ContractVisitDue:
    contract_id: str
    customer: str
    visit: DueVisit


def contracts_visits_due(
    contracts: Iterable[Contract],
    last_conducted: Mapping[tuple[str, VisitPurpose], datetime],
    as_of: datetime,
) -> list[ContractVisitDue]:
    """:func:`visits_due` of every contract, under the policy in force at ``as_of``,
    soonest first. ``last_conducted``: per (contract id, kind)."""
    found = []
    for contract in contracts:
        policy = contract.policy_at(as_of)
        last = {
            kind: at for (cid, kind), at in last_conducted.items() if cid == contract.contract_id
        }
        found += [
            ContractVisitDue(contract.contract_id, policy.customer, due)
            for due in visits_due(policy, last, as_of)
        ]
    return sorted(found, key=lambda d: (d.visit.due_at, d.contract_id, d.visit.kind.value))
