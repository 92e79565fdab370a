"""The ``Store`` port: what the services need of an event store, and nothing more.

The services (tickets, quality, contracts) read aggregates, a number sequence's last
version and a record's events, and save one command's events atomically. Three things
implement it: :class:`~ledger.commands.application.LedgerApplication` (the event store),
the importer's staged batch (the store plus a batch's unsaved events) and the tests'
in-memory store (cosmicpython's fake unit of work).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from ledger.domain.model import DomainEvent, Projector


class Store(Protocol):
    """An event store as the services see it. ``save`` raises the library's
    ``IntegrityError`` when an event's version is taken (another writer was first); ``get``
    raises ``AggregateNotFoundError`` when no event makes the aggregate."""

    def get(self, aggregate_id: UUID, projector: Projector, *, version: int | None = None) -> Any:
        """The aggregate's state (at ``version``), folded by ``projector``."""

    def read(self, aggregate_id: UUID, *, limit: int | None = None) -> Sequence[DomainEvent]:
        """The aggregate's events in order (the first ``limit``)."""

    def last_version(self, aggregate_id: UUID) -> int | None:
        """The aggregate's last version (a number sequence's last number); ``None``: none."""

    def select(self, event_type: type[DomainEvent]) -> Sequence[DomainEvent]:
        """Every event of ``event_type``, in log order (the contracts' registrations)."""

    def save(self, *events: DomainEvent) -> object:
        """One command's events, all or none."""
