"""The escalation sweep (``ledger sweep``): an application service run by cron or a timer.

It only finds the open tickets (the ``tickets`` read model, caught up first), loads each
aggregate (the truth), asks :func:`ledger.domain.sweep.sweep_ticket` what is owed, and
saves those events in one write per ticket. The decisions are a function of the ticket's
state and the sweep's now, so the sweep is idempotent; when another writer (another sweep,
a person) changes a ticket between our read and our write, the store refuses the write
(``ConcurrentChange``) and the ticket is re-read and decided again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine

from ledger.clock import Clock
from ledger.commands.application import ConcurrentChange
from ledger.commands.contracts import ContractService
from ledger.commands.notify_rules import NotificationRules
from ledger.commands.registry import authorise
from ledger.commands.tickets import TicketService
from ledger.domain.calendar import WorkCalendar
from ledger.domain.contract import Contract, policy_for_ticket
from ledger.domain.errors import DomainError, RuleViolation
from ledger.domain.model import Stamp, check_times
from ledger.domain.sweep import SweepAction, SweepKind, sweep_ticket
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role
from ledger.projections.base import ProjectionRunner
from ledger.projections.tickets import list_tickets

SWEEP_ACTOR = "system:sweep"
SWEEP_ATTEMPTS = 5
"""Reads of one ticket before the sweep gives up on it for this run (each lost race
means another writer changed it; a re-read usually finds nothing left to do)."""


@dataclass(frozen=True)
class Done:
    """An action on a ticket (recorded, or only decided in a dry run)."""

    number: str
    action: SweepAction


@dataclass(frozen=True)
class Problem:
    """A ticket the sweep could not handle this run (the others are still swept)."""

    number: str
    message: str


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool
    checked: int = 0
    done: list[Done] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    retries: int = 0

    def counts(self) -> dict[str, int]:
        """Actions per kind; at-risk warnings only when there are some (they exist only
        once notification rules are loaded), declared metrics noted overdue likewise (only
        contracts that declare metrics have them)."""
        found = {k.value: sum(1 for d in self.done if d.action.kind is k) for k in SweepKind}
        for optional in (SweepKind.AT_RISK, SweepKind.METRIC_OVERDUE):
            if not found[optional.value]:
                del found[optional.value]
        return found


@dataclass
class SweepService:
    """Runs the sweep on an open ledger (``Ledger.sweep``)."""

    tickets: TicketService
    contracts: ContractService
    projections: ProjectionRunner
    engine: Engine
    clock: Clock

    def run(
        self,
        now: datetime | None = None,
        *,
        dry_run: bool = False,
        attempts: int = SWEEP_ATTEMPTS,
    ) -> SweepReport:
        """Sweep every open ticket as of ``now`` (default: the clock). A ``now`` further in
        the future than the clock skew allows is refused (``RuleViolation``) before any
        ticket is read."""
        sweep_now = self.clock.now() if now is None else now
        stamp = self._stamp(sweep_now)
        authorise("sweep", stamp.role, actor=stamp.actor)
        try:
            check_times(stamp)
        except RuleViolation as e:
            raise RuleViolation(f"cannot sweep as of a time in the future: {e}") from None
        report = SweepReport(now=sweep_now, dry_run=dry_run)
        official = self.contracts.work_calendar()
        at_risk = NotificationRules(self.contracts.store, self.clock).at_risk_thresholds()
        contracts: dict[str, Contract | None] = {}

        def contract_of(ticket: Ticket) -> Contract | None:
            if ticket.contract_id not in contracts:
                contracts[ticket.contract_id] = self.contracts.find(ticket.contract_id)
            return contracts[ticket.contract_id]

        for ticket_id, number in self._open_tickets():
            report.checked += 1
            try:
                self._sweep_one(
                    ticket_id, number, sweep_now, official, contract_of, report, attempts, at_risk
                )
            except DomainError as e:
                report.problems.append(Problem(number, str(e)))
        return report

    def _open_tickets(self) -> list[tuple[UUID, str]]:
        """Open tickets by number, from the read model caught up with the log."""
        self.projections.catch_up(["tickets"])
        with self.engine.connect() as conn:
            rows = list_tickets(conn, state="open")
        return sorted(((row["ticket_id"], row["number"]) for row in rows), key=lambda r: r[1])

    def _stamp(self, now: datetime) -> Stamp:
        return Stamp(
            actor=SWEEP_ACTOR, role=Role.SYSTEM, occurred_at=now, recorded_at=self.clock.now()
        )

    def _sweep_one(
        self,
        ticket_id: UUID,
        number: str,
        now: datetime,
        official: WorkCalendar,
        contract_of: Callable[[Ticket], Contract | None],
        report: SweepReport,
        attempts: int,
        at_risk: tuple[int, ...],
    ) -> None:
        for _ in range(attempts):
            ticket = self.tickets.get(ticket_id)
            contract = contract_of(ticket)
            if contract is None:
                report.problems.append(Problem(number, f"no contract {ticket.contract_id}"))
                return
            policy = policy_for_ticket(contract, ticket.reported_at)
            actions = sweep_ticket(ticket, policy, official, self._stamp(now), at_risk)
            if actions and not report.dry_run:
                try:
                    self.tickets.commit([a.event for a in actions])
                except ConcurrentChange:
                    report.retries += 1
                    continue
            report.done.extend(Done(ticket.number, a) for a in actions)
            return
        report.problems.append(
            Problem(number, f"changed concurrently {attempts} times in a row: not swept this run")
        )
