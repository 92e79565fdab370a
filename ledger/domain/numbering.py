"""Human numbers such as ``T-2026-000123``: unique and sequential per year and per series.

Four series share one scheme (:class:`Series`): tickets ``T-2026-000123``, return visits
``V-2026-000001``, corrective actions ``CA-2026-0001`` and complaints ``C-2026-0001``. A
number grows wider when a year needs more digits (``CA-2026-12345``).

Each series has, per year, a number-sequence aggregate whose version *is* the last number
issued. Issuing a number appends ``TicketNumberIssued`` (tickets) or :class:`NumberIssued`
(the other series) at version ``n + 1`` in the same atomic save as the numbered
aggregate's first event, so two concurrent writers cannot both take ``n + 1``: the event
store's optimistic concurrency check lets exactly one win and the other retries with the
next number. An aggregate's id is derived from its number, so a number can be turned into
an id without any lookup table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.errors import RuleViolation
from ledger.domain.model import DomainEvent, Immutable, ShortText, Stamp

NAMESPACE = uuid5(NAMESPACE_URL, "urn:ledger:after-sales")


class Series(StrEnum):
    """A kind of numbered record. The value names its sequence and id keys, so the ticket
    series keeps the keys it always had (``ticket-number-sequence:2026``,
    ``ticket:T-2026-000123``)."""

    TICKET = "ticket"
    VISIT = "visit"
    CORRECTIVE_ACTION = "corrective-action"
    COMPLAINT = "complaint"

    @property
    def prefix(self) -> str:
        return _SHAPES[self][0]

    @property
    def digits(self) -> int:
        """The sequence's minimum width (zero-padded)."""
        return _SHAPES[self][1]

    @property
    def noun(self) -> str:
        return _SHAPES[self][2]

    @property
    def pattern(self) -> re.Pattern[str]:
        return _PATTERNS[self]

    def format_number(self, year: int, sequence: int) -> str:
        return f"{self.prefix}-{year:04d}-{sequence:0{self.digits}d}"

    def sequence_id(self, year: int) -> UUID:
        return uuid5(NAMESPACE, f"{self.value}-number-sequence:{year:04d}")

    def id_for(self, number: str) -> UUID:
        if not self.pattern.match(number):
            example = self.format_number(2026, 123)
            raise ValueError(f"{number!r} is not a {self.noun} number (expected e.g. {example})")
        return _record_id(self.value, number)


@lru_cache(maxsize=65536)
def _record_id(series: str, number: str) -> UUID:
    """A record's id from its number (SHA-1 each time: remembered for the numbers in use)."""
    return uuid5(NAMESPACE, f"{series}:{number}")


_SHAPES = {
    Series.TICKET: ("T", 6, "ticket"),
    Series.VISIT: ("V", 6, "return visit"),
    Series.CORRECTIVE_ACTION: ("CA", 4, "corrective action"),
    Series.COMPLAINT: ("C", 4, "complaint"),
}
"""Per series: number prefix, minimum digits of the sequence, and its name in messages."""
_PATTERNS = {s: re.compile(rf"\A{s.prefix}-([0-9]{{4}})-([0-9]{{{s.digits},}})\Z") for s in Series}

NUMBER_PATTERN = Series.TICKET.pattern
"""A ticket number (kept under its old name)."""


class TicketNumberIssued(DomainEvent):
    """The sequence for ``year`` issued ``number`` (its version) to ``ticket_id``."""

    year: int
    number: ShortText
    ticket_id: UUID


class NumberIssued(DomainEvent):
    """The ``series`` sequence for ``year`` issued ``number`` (its version) to ``subject_id``
    (every series but tickets, which keep :class:`TicketNumberIssued`)."""

    series: Series
    year: int
    number: ShortText
    subject_id: UUID


def issue_number(series: Series, year: int, sequence: int, stamp: Stamp) -> NumberIssued:
    """The event that takes number ``sequence`` of ``series`` in ``year``: version
    ``sequence`` of the year's sequence aggregate (``sequence - 1`` is its current version)."""
    if series is Series.TICKET:
        raise ValueError("ticket numbers are issued with TicketNumberIssued")
    number = series.format_number(year, sequence)
    # Like TicketNumberIssued: a number is issued when it is recorded.
    issued = stamp.model_copy(update={"occurred_at": stamp.recorded_at})
    return NumberIssued(
        **issued.envelope(series.sequence_id(year), sequence),
        series=series,
        year=year,
        number=number,
        subject_id=series.id_for(number),
    )


class Reference(Immutable):
    """A numbered record another one points at, by number and by id."""

    series: Series
    number: ShortText
    id: UUID


def reference(number: str) -> Reference:
    """The record a number names, its series told by its prefix; ``ValueError`` if none."""
    for series in Series:
        if series.pattern.match(number):
            return Reference(series=series, number=number, id=series.id_for(number))
    examples = ", ".join(s.format_number(2026, 1) for s in Series)
    raise ValueError(f"{number!r} is not a record number (expected e.g. {examples})")


def reference_in(series: Series, number: str) -> Reference:
    """A decider's reading of a number that must belong to ``series``: a malformed number
    is a :class:`RuleViolation` (the command is refused, nothing recorded)."""
    try:
        return Reference(series=series, number=number, id=series.id_for(number))
    except ValueError as e:
        raise RuleViolation(str(e)) from None


def new_link(series: Series, number: str, linked: Iterable[Reference], holder: str) -> Reference:
    """A decider's reading of a number to link to ``holder`` (e.g. ``"complaint
    C-2026-0001"``): it must belong to ``series`` and not be ``linked`` already."""
    link = reference_in(series, number)
    if link in linked:
        raise RuleViolation(f"{holder} is already linked to {series.noun} {number}")
    return link


def sequence_id(year: int) -> UUID:
    return Series.TICKET.sequence_id(year)


def format_number(year: int, sequence: int) -> str:
    return Series.TICKET.format_number(year, sequence)


def ticket_id_for(number: str) -> UUID:
    return Series.TICKET.id_for(number)
