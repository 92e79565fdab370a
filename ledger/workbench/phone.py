"""The engineer's phone (375×812): my open tickets by urgency, and one ticket's page with
one-tap steps (respond, on my way, arrived, suspend, resolve with photos, the customer's
signature on the screen) and its timeline, occurred vs recorded.

The page writes nothing itself: its script (``static/phone.js``) queues each step in the
browser (IndexedDB) with the moment it happened and an ``Idempotency-Key``, and sends the
queue to the write API (session cookie + ``X-CSRF-Token``) whenever the network is there,
so a step taken offline is recorded once, later, with its real ``occurred_at``. The service
worker (``/workbench/sw.js``, scope ``/workbench/``) keeps the pages and their static files
for offline use.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from ledger.commands.application import NotFound
from ledger.commands.users import User
from ledger.dashboard.pages import ledger_of, scope_of
from ledger.dashboard.web import PageRoute
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role, Severity, TicketStatus
from ledger.presenters.tickets import event_view
from ledger.projections.tickets import list_tickets
from ledger.reports.common import caught_up
from ledger.timeutil import show
from ledger.workbench.pages import HERE, NAV, NavItem, WorkbenchUserDep, may, render

router = APIRouter(prefix="/workbench", include_in_schema=False, route_class=PageRoute)

NAV.append(NavItem("phone", "/workbench/phone", lambda user: user.role is Role.ENGINEER))

URGENCY = {s: rank for rank, s in enumerate(Severity)}
"""Emergency first, then critical, major, general (:class:`Severity`'s order)."""

STEPS = ("respond", "set_off", "arrive", "suspend", "resume", "resolve", "sign")
"""The steps the phone offers, each shown only when the role may issue it and the ticket's
state lets it."""


def my_tickets(request: Request, user: User) -> list[dict[str, Any]]:
    """The user's open tickets (an engineer's own; the desk's every open one), most urgent
    first, then oldest report first."""
    ledger = ledger_of(request)
    with caught_up(ledger, ("tickets",)) as (conn, _):
        rows = list_tickets(conn, state="open", engineer=scope_of(user).engineer)
    rows.sort(key=lambda r: (URGENCY.get(Severity(r["severity"]), 9), r["reported_at"]))
    return [
        row | {"reported_local": show(row["reported_at"], ledger.tz)[:16].replace("T", " ")}
        for row in rows
    ]


def steps_now(ticket: Ticket) -> list[str]:
    """The steps the ticket's state allows now (the deciders have the last word)."""
    if not ticket.is_open:
        return []
    if ticket.is_suspended:
        return ["resume"]
    steps = []
    if ticket.responded_at is None:
        steps.append("respond")
    dispatched = ticket.engineer is not None and ticket.dispatched_at is not None
    if dispatched and not ticket.is_resolved and not ticket.on_site:
        if ticket.set_off_at is None:
            steps.append("set_off")
        steps.append("arrive")
    if not ticket.is_resolved:
        steps += ["suspend", "resolve"]
    elif ticket.signature is None and ticket.status is TicketStatus.RESOLVED:
        steps.append("sign")
    return steps


def _local(value: str) -> str:
    return value[:16].replace("T", " ")


@router.get("/phone")
def phone_list(request: Request, user: WorkbenchUserDep) -> Response:
    """My tickets by urgency."""
    context = {"user": user, "page": "phone", "tickets": my_tickets(request, user)}
    return render(request, "workbench/phone_list.html", context)


@router.get("/phone/{number}")
def phone_ticket(request: Request, user: WorkbenchUserDep, number: str) -> Response:
    """One ticket on the phone: its steps (only those this role may take now) and timeline."""
    ledger = ledger_of(request)
    try:
        ticket = ledger.tickets.get(number)
    except NotFound as e:
        raise HTTPException(404, str(e)) from None
    if not scope_of(user).allows(ticket.engineer):
        raise HTTPException(403, f"{number} is not dispatched to {user.name}")
    timeline = [
        event_view(e, ledger.tz) | {} for e in reversed(ledger.tickets.history(ticket.number))
    ]
    for item in timeline:
        item["occurred_local"] = _local(item["occurred_at"])
        item["recorded_local"] = _local(item["recorded_at"])
        item["late"] = item["occurred_local"] != item["recorded_local"]
    context = {
        "user": user,
        "page": "phone",
        "ticket": ticket,
        "steps": [s for s in steps_now(ticket) if may(user, s)],
        "may_attach": may(user, "attach"),
        "timeline": timeline,
    }
    return render(request, "workbench/phone_ticket.html", context)


SERVICE_WORKER = (HERE / "static" / "sw.js").read_bytes()


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from ``/workbench/`` so its scope is the workbench."""
    return Response(
        SERVICE_WORKER,
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/workbench/"},
    )
