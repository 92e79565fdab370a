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
from ledger.domain.values import Role, Severity
from ledger.presenters.tickets import event_view
from ledger.projections.sla_queries import ticket_slas
from ledger.projections.tickets import list_tickets
from ledger.reports.common import caught_up
from ledger.timeutil import show
from ledger.workbench import actions, desk
from ledger.workbench.pages import HERE, NAV, NavItem, WorkbenchUserDep, may, render

router = APIRouter(prefix="/workbench", include_in_schema=False, route_class=PageRoute)

NAV.append(NavItem("phone", "/workbench/phone", lambda user: user.role is Role.ENGINEER))

URGENCY = {s: rank for rank, s in enumerate(Severity)}
"""Emergency first, then critical, major, general (:class:`Severity`'s order)."""

STEPS = ("respond", "set_off", "arrive", "suspend", "resume", "resolve", "sign")
"""The steps the phone offers, each shown only when the role may issue it and the ticket's
decider accepts it now (the ticket page's buttons: :func:`actions.offered`)."""


def my_tickets(request: Request, user: User) -> list[dict[str, Any]]:
    """The user's open tickets (an engineer's own; the desk's every open one), most urgent
    first, then oldest report first; each with its next due promise (``clock``: the
    queues' row, whose countdown the page runs)."""
    ledger = ledger_of(request)
    engineer = scope_of(user).engineer
    threshold = desk.at_risk_threshold(ledger)
    with caught_up(ledger, ("tickets", "sla")) as (conn, now):
        rows = list_tickets(conn, state="open", engineer=engineer)
        judged = ticket_slas(conn, now, only_open=True, engineer=engineer, late_minutes=False)
        running = {t.ticket_id: desk.running(t) for t in judged}
        risky = desk.targets_at_risk(conn, running, now, threshold)
        clocks = {t.number: desk.queue_row(t, now, t.ticket_id in risky) for t in judged}
    rows.sort(key=lambda r: (URGENCY.get(Severity(r["severity"]), 9), r["reported_at"]))
    return [
        row
        | {
            "reported_local": show(row["reported_at"], ledger.tz)[:16].replace("T", " "),
            "clock": clocks.get(row["number"]),
        }
        for row in rows
    ]


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
    sla, now, at_risk = desk.load_ticket_sla(ledger, ticket.number)
    context = {
        "user": user,
        "page": "phone",
        "ticket": ticket,
        "clock": None if sla is None else desk.queue_row(sla, now, at_risk),
        "steps": [s for s in STEPS if actions.offered(ledger, user, ticket, s) is not None],
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
