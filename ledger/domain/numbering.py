"""Human ticket numbers such as ``T-2026-000123``: unique and sequential per year.

Each year has a number-sequence aggregate whose version *is* the last number issued.
Issuing a number appends ``TicketNumberIssued`` at version ``n + 1`` in the same atomic
save as the ticket's ``Reported`` event, so two concurrent writers cannot both take
``n + 1``: the event store's optimistic concurrency check lets exactly one win and the
other retries with the next number. The ticket's id is derived from its number, so a
number can be turned into an id without any lookup table.
"""

from __future__ import annotations

import re
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.model import DomainEvent, ShortText

NAMESPACE = uuid5(NAMESPACE_URL, "urn:ledger:after-sales")
NUMBER_PATTERN = re.compile(r"\AT-([0-9]{4})-([0-9]{6,})\Z")


class TicketNumberIssued(DomainEvent):
    """The sequence for ``year`` issued ``number`` (its version) to ``ticket_id``."""

    year: int
    number: ShortText
    ticket_id: UUID


def sequence_id(year: int) -> UUID:
    return uuid5(NAMESPACE, f"ticket-number-sequence:{year:04d}")


def format_number(year: int, sequence: int) -> str:
    return f"T-{year:04d}-{sequence:06d}"


def ticket_id_for(number: str) -> UUID:
    if not NUMBER_PATTERN.match(number):
        raise ValueError(f"{number!r} is not a ticket number (expected e.g. T-2026-000123)")
    return uuid5(NAMESPACE, f"ticket:{number}")
