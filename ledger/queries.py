"""Read-side answers about one ticket that need its contract: the policy it is judged by,
its SLA verdicts, its history with that policy. The CLI (``ticket show`` / ``history``),
the HTTP API and the audit dossier ask them; the rule itself is the domain's
(:func:`~ledger.domain.contract.policy_for_ticket`, :func:`~ledger.domain.compliance.judge_ticket`).
Built by the composition root; needs only the ticket and contract services and a clock."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from ledger.clock import Clock
from ledger.commands.contracts import ContractService
from ledger.commands.tickets import TicketService
from ledger.domain.compliance import Judgement, judge_ticket
from ledger.domain.contract import Policy, policy_for_ticket
from ledger.domain.ticket import Reported, Ticket, TicketEvent


class TicketQueries:
    def __init__(self, tickets: TicketService, contracts: ContractService, clock: Clock) -> None:
        self.tickets = tickets
        self.contracts = contracts
        self.clock = clock

    def get(self, ref: str | UUID) -> Ticket:
        """The ticket ``ref`` (number or id) now."""
        return self.tickets.get(ref)

    def events(self, ref: str | UUID) -> list[TicketEvent]:
        """The ticket's events, in order."""
        return self.tickets.history(ref)

    def policy(self, contract_id: str, reported_at: datetime) -> Policy | None:
        """The policy a ticket reported at ``reported_at`` under ``contract_id`` is judged
        by; ``None`` when the contract is unknown."""
        return policy_for_ticket(self.contracts.find(contract_id), reported_at)

    def judge(self, ticket: Ticket, now: datetime | None = None) -> list[Judgement] | None:
        """The ticket's SLA verdicts at ``now`` (default: the clock's now) under
        :meth:`policy`; ``None`` when its contract is unknown."""
        policy = self.policy(ticket.contract_id, ticket.reported_at)
        if policy is None:
            return None
        when = self.clock.now() if now is None else now
        return judge_ticket(ticket, policy, self.contracts.work_calendar(), when)

    def history(self, ref: str | UUID) -> tuple[list[TicketEvent], Policy | None]:
        """A ticket's events, in order, and the policy it is judged by (from its report)."""
        events = self.events(ref)
        first = events[0]
        assert isinstance(first, Reported)
        return events, self.policy(first.contract_id, first.occurred_at)
