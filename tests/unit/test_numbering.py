"""Number series beyond tickets: return visits, corrective actions and complaints.

The ticket series keeps exactly its old numbers, ids and sequence ids (also tested in
tests/unit/test_ticket_rules.py); the others follow the same scheme with their own prefix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid5

import pytest

from ledger.domain.errors import RuleViolation
from ledger.domain.model import Stamp
from ledger.domain.numbering import (
    NAMESPACE,
    NUMBER_PATTERN,
    NumberIssued,
    Reference,
    Series,
    format_number,
    issue_number,
    new_link,
    reference,
    reference_in,
    sequence_id,
    ticket_id_for,
)
from ledger.domain.values import Role


@pytest.mark.parametrize(
    ("series", "first", "big"),
    [
        (Series.TICKET, "T-2026-000001", "T-2026-1234567"),
        (Series.VISIT, "V-2026-000001", "V-2026-1234567"),
        (Series.CORRECTIVE_ACTION, "CA-2026-0001", "CA-2026-1234567"),
        (Series.COMPLAINT, "C-2026-0001", "C-2026-1234567"),
    ],
)
def test_each_series_formats_and_identifies_its_numbers(
    series: Series, first: str, big: str
) -> None:
    assert series.format_number(2026, 1) == first
    assert series.format_number(2026, 1_234_567) == big
    assert series.id_for(first) == uuid5(NAMESPACE, f"{series.value}:{first}")
    assert series.sequence_id(2026) == uuid5(NAMESPACE, f"{series.value}-number-sequence:2026")
    assert reference(first) == Reference(series=series, number=first, id=series.id_for(first))
    assert reference(big).series is series


def test_the_ticket_series_is_the_old_ticket_numbering() -> None:
    assert Series.TICKET.format_number(2026, 123) == format_number(2026, 123) == "T-2026-000123"
    assert Series.TICKET.id_for("T-2026-000123") == ticket_id_for("T-2026-000123")
    assert ticket_id_for("T-2026-000123") == uuid5(NAMESPACE, "ticket:T-2026-000123")
    assert Series.TICKET.sequence_id(2026) == sequence_id(2026)
    assert sequence_id(2026) == uuid5(NAMESPACE, "ticket-number-sequence:2026")
    assert NUMBER_PATTERN is Series.TICKET.pattern


def test_series_do_not_share_ids_or_sequences() -> None:
    ids = {s.id_for(s.format_number(2026, n)) for s in Series for n in range(1, 21)}
    sequences = {s.sequence_id(y) for s in Series for y in (2025, 2026)}
    assert len(ids) == 4 * 20 and len(sequences) == 4 * 2
    assert not ids & sequences


@pytest.mark.parametrize(
    ("series", "number"),
    [
        (Series.VISIT, "V-2026-00001"),
        (Series.VISIT, "v-2026-000001"),
        (Series.VISIT, "T-2026-000001"),
        (Series.CORRECTIVE_ACTION, "CA-2026-001"),
        (Series.CORRECTIVE_ACTION, "C-2026-0001"),
        (Series.COMPLAINT, "CA-2026-0001"),
        (Series.COMPLAINT, "C-2026-0001 "),
        (Series.COMPLAINT, "C-26-0001"),
    ],
)
def test_a_series_refuses_numbers_of_another_shape(series: Series, number: str) -> None:
    with pytest.raises(ValueError, match=f"is not a {series.noun} number"):
        series.id_for(number)
    with pytest.raises(RuleViolation, match=f"is not a {series.noun} number"):
        reference_in(series, number)


def test_reference_tells_the_series_by_the_prefix() -> None:
    assert reference("C-2026-0001").series is Series.COMPLAINT
    assert reference("CA-2026-0001").series is Series.CORRECTIVE_ACTION
    with pytest.raises(ValueError, match=r"'X-2026-0001' is not a record number \(expected e\.g\."):
        reference("X-2026-0001")


def test_new_link_refuses_a_second_link_to_the_same_record() -> None:
    first = new_link(Series.CORRECTIVE_ACTION, "CA-2026-0001", (), "complaint C-2026-0001")
    assert first == reference("CA-2026-0001")
    with pytest.raises(
        RuleViolation,
        match="complaint C-2026-0001 is already linked to corrective action CA-2026-0001",
    ):
        new_link(Series.CORRECTIVE_ACTION, "CA-2026-0001", (first,), "complaint C-2026-0001")


def test_issue_number_takes_the_next_version_of_the_year_sequence() -> None:
    now = datetime(2026, 10, 8, 1, tzinfo=UTC)
    stamp = Stamp(
        actor="李娜",
        role=Role.QUALITY,
        occurred_at=datetime(2026, 10, 1, tzinfo=UTC),
        recorded_at=now,
    )
    issued = issue_number(Series.CORRECTIVE_ACTION, 2026, 7, stamp)
    assert type(issued) is NumberIssued
    assert (issued.originator_id, issued.originator_version) == (
        Series.CORRECTIVE_ACTION.sequence_id(2026),
        7,
    )
    assert (issued.series, issued.year, issued.number) == (
        Series.CORRECTIVE_ACTION,
        2026,
        "CA-2026-0007",
    )
    assert issued.subject_id == Series.CORRECTIVE_ACTION.id_for("CA-2026-0007")
    assert issued.occurred_at == issued.timestamp == now  # issued when recorded
    with pytest.raises(ValueError, match="TicketNumberIssued"):
        issue_number(Series.TICKET, 2026, 1, stamp)
