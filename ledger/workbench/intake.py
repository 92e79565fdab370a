"""The hotline's intake as view models: which contract a caller means (by customer, contract
name or a phone seen on earlier tickets), whether the device is in warranty, what earlier
tickets remember (contacts, sites, devices), and the open tickets a new report may repeat
(:func:`duplicates`, pure; :func:`find_duplicates` reads them). The promise the form shows
for a severity: :func:`ledger.presenters.contracts.promise_text`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select

from ledger.bootstrap import Ledger
from ledger.domain.contract import Contract, Policy
from ledger.domain.ticket import Ticket
from ledger.projections.search import search_tickets, ticket_search
from ledger.projections.sla import (
    load_contracts,
)
from ledger.projections.tickets import ticket_summary
from ledger.reports.common import caught_up


@dataclass(frozen=True)
class ContractChoice:
    contract_id: str
    name: str
    customer: str


def in_warranty(policy: Policy, today: date) -> bool:
    return policy.warranty.covers(today)


def find_contracts(
    contracts: Iterable[Contract], query: str, by_phone: Iterable[str] = ()
) -> list[ContractChoice]:
    """The contracts whose customer or name holds ``query`` (case ignored), or whose earlier
    tickets had a contact with that phone (``by_phone``: their contract ids)."""
    wanted = query.strip().lower()
    phone_ids = set(by_phone)
    found = []
    for contract in contracts:
        policy = contract.latest.policy
        text = f"{contract.contract_id}\n{policy.name}\n{policy.customer}".lower()
        if not wanted or wanted in text or contract.contract_id in phone_ids:
            found.append(ContractChoice(contract.contract_id, policy.name, policy.customer))
    return sorted(found, key=lambda c: c.contract_id)


@dataclass(frozen=True)
class Remembered:
    """What earlier tickets of a contract remember, most used first."""

    customers: list[str]
    sites: list[str]
    devices: list[str]
    contacts: list[tuple[str, str]]


def remembered(tickets: Iterable[Ticket]) -> Remembered:
    """From a contract's earlier tickets: customers, sites, devices and contacts (name,
    phone), most often used first (the open ones among them: :func:`find_duplicates`)."""
    customers: Counter[str] = Counter()
    sites: Counter[str] = Counter()
    devices: Counter[str] = Counter()
    contacts: Counter[tuple[str, str]] = Counter()
    for t in tickets:
        customers[t.customer] += 1
        sites[t.site] += 1
        devices[t.device] += 1
        contacts[(t.contact.name, t.contact.phone)] += 1

    def ranked(counter: Counter[Any]) -> list[Any]:
        return [k for k, _ in sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))]

    return Remembered(
        ranked(customers),
        ranked(sites),
        ranked(devices),
        ranked(contacts),
    )


def load_contracts_list(ledger: Ledger) -> list[Contract]:
    """Every contract (the SLA read model's copy, caught up first)."""
    with caught_up(ledger, ("sla",)) as (conn, _):
        return list(load_contracts(conn).values())


def contracts_by_phone(ledger: Ledger, phone: str) -> list[str]:
    """The contracts of earlier tickets whose contact had ``phone`` (a part of it, at
    least 3 characters: the search read model)."""
    digits = phone.strip()
    if len(digits) < 3 or not any(c.isdigit() for c in digits):
        return []
    ledger.projections.catch_up(["search"])
    t = ticket_search
    with ledger.engine.connect() as conn:
        numbers = search_tickets(conn, digits, limit=200)
        if not numbers:
            return []
        rows = conn.execute(select(t.c.contract_id, t.c.phones).where(t.c.number.in_(numbers)))
        return sorted({r.contract_id for r in rows if digits in r.phones})


def contract_tickets(ledger: Ledger, contract_id: str, limit: int = 500) -> list[Ticket]:
    """The contract's latest tickets (as the search read model holds them)."""
    ledger.projections.catch_up(["search"])
    t = ticket_search
    with ledger.engine.connect() as conn:
        rows = conn.execute(
            select(t.c.state)
            .where(t.c.contract_id == contract_id)
            .order_by(t.c.number.desc())
            .limit(limit)
        )
        return [Ticket.model_validate_json(r.state) for r in rows]


@dataclass(frozen=True)
class Duplicate:
    """An open ticket a new report may repeat."""

    number: str
    customer: str
    site: str
    device: str
    status: str
    same_device: bool


def _same(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def duplicates(tickets: Iterable[Ticket], customer: str, device: str) -> list[Duplicate]:
    """Among ``tickets``, the open ones of ``customer`` or of ``device`` (case and the
    spaces around ignored): the same device first, then the newest."""
    given = device.strip()
    found = [
        Duplicate(
            t.number,
            t.customer,
            t.site,
            t.device,
            t.status.value,
            same_device=bool(given) and _same(t.device, given),
        )
        for t in tickets
        if t.is_open and (_same(t.customer, customer) or (given and _same(t.device, given)))
    ]
    found.sort(key=lambda d: d.number, reverse=True)
    return sorted(found, key=lambda d: not d.same_device)


def find_duplicates(
    ledger: Ledger, contract_id: str, customer: str, device: str
) -> list[Duplicate]:
    """The open tickets a report on ``contract_id`` may repeat: those of the same customer
    (any contract of theirs) and, on the contract, those of the same device (the tickets
    read model, caught up first)."""
    t = ticket_summary
    with caught_up(ledger, ("tickets",)) as (conn, _):
        rows = conn.execute(
            select(t.c.state).where(
                t.c.is_open.is_(True),
                or_(t.c.customer == customer.strip(), t.c.contract_id == contract_id),
            )
        )
        tickets = [Ticket.model_validate_json(r.state) for r in rows]
    return duplicates(tickets, customer, device)
