"""``ledger ticket show T --json`` in a fresh process, without the composition root.

Opening a :class:`~ledger.bootstrap.Ledger` imports SQLAlchemy, the library's application,
every service and the command models; the answer needs none of them: the ticket's, its
contract's and the holiday calendar's events, read through the database's own driver
(:class:`~ledger.storage.quick_reader.QuickReader`: ``sqlite3`` or ``psycopg``), folded and
judged by the same domain functions :class:`~ledger.queries.TicketQueries` and
:class:`~ledger.commands.contracts.ContractService` use, shown by the same presenters (issue
18: a cold start under 300 ms). tests/e2e/test_quick_show.py checks that both paths give the
same output for every ticket of a real history, on both databases.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Any
from uuid import UUID

from ledger.adapters.chinese_calendar import china_official_calendar
from ledger.clock import Clock, FixedClock
from ledger.domain.compliance import judge_ticket
from ledger.domain.contract import contract_uuid, policy_for_ticket, project_contract
from ledger.domain.holidays import HOLIDAY_CALENDAR_ID, project_holidays, with_tables
from ledger.domain.numbering import ticket_id_for
from ledger.domain.ticket import Ticket, project_ticket
from ledger.presenters.tickets import sla_view, ticket_view
from ledger.storage.location import Location
from ledger.storage.quick_reader import QuickReader


def ticket_show_view(
    location: Location, ref: str, tz: tzinfo, clock: Clock
) -> dict[str, Any] | None:
    """``ticket show REF --json``'s view, as the full path builds it; ``None`` when this path
    cannot answer exactly (no such SQLite file, no database or ticket, a fixed clock asked of
    a ledger that records the real time, anything unreadable): the caller then takes the full
    path, which also says what is wrong."""
    if location.kind == "sqlite" and (location.path is None or not location.path.exists()):
        return None
    ticket_id = _ticket_id(ref)
    if ticket_id is None:
        return None
    try:
        reader = QuickReader(location)
    except Exception:  # the full path reports it
        return None
    try:
        if isinstance(clock, FixedClock) and not reader.records_fixed_clock():
            return None
        ticket: Ticket | None = reader.get(ticket_id, project_ticket)
        if ticket is None:
            return None
        contract = reader.get(contract_uuid(ticket.contract_id), project_contract)
        policy = policy_for_ticket(contract, ticket.reported_at)
        judged = None
        if policy is not None:
            holidays = reader.get(HOLIDAY_CALENDAR_ID, project_holidays)
            calendar = with_tables(china_official_calendar(), holidays.tables if holidays else ())
            judged = judge_ticket(ticket, policy, calendar, clock.now())
        return ticket_view(ticket, tz) | {"sla": sla_view(judged, tz)}
    except Exception:  # an unreadable event, a year without a calendar: the full path says so
        return None
    finally:
        reader.close()


def _ticket_id(ref: str) -> UUID | None:
    """As :meth:`~ledger.commands.tickets.TicketService.resolve_id`; ``None`` where that
    raises (the full path says why)."""
    text = ref.strip()
    try:
        return ticket_id_for(text.upper()) if text.upper().startswith("T-") else UUID(text)
    except ValueError:
        return None
