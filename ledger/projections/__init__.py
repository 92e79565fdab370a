"""Read models rebuilt from the event log."""

from ledger.projections.base import Projection, ProjectionRunner
from ledger.projections.complaints import ComplaintProjection
from ledger.projections.corrective_actions import CorrectiveActionProjection
from ledger.projections.search import TicketSearchProjection
from ledger.projections.sla import SlaProjection
from ledger.projections.supervision import SupervisionProjection
from ledger.projections.tickets import TicketSummaryProjection
from ledger.projections.visits import VisitProjection


def all_projections() -> list[Projection]:
    return [
        TicketSummaryProjection(),
        SlaProjection(),
        VisitProjection(),
        CorrectiveActionProjection(),
        ComplaintProjection(),
        SupervisionProjection(),
        TicketSearchProjection(),
    ]


__all__ = ["Projection", "ProjectionRunner", "all_projections"]
