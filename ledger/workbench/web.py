"""The workbench's routes (``/workbench``), mounted by :mod:`ledger.web` after the
dashboard (whose login, language switch and static htmx it uses). Pages are server-rendered
Jinja2 (:mod:`ledger.workbench.pages`); forms write through :mod:`ledger.workbench.submit`,
page JavaScript through the write API itself (a session cookie with the ``X-CSRF-Token``
header: :func:`ledger.api.routes.authenticated`).

The desk's pages: the hotline's intake, the queues, search and a ticket's page (its
buttons, notes and replies, attachments, SLA clocks and timeline). docs/workbench.md.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from ledger.api import evidence as api_evidence
from ledger.commands.application import TicketNotFound
from ledger.commands.users import User
from ledger.dashboard.pages import Forbidden, PageNotFound, lang, ledger_of, signer_of
from ledger.dashboard.web import PageRoute
from ledger.domain.evidence import EvidenceKind
from ledger.domain.values import Role, Severity
from ledger.presenters.tickets import history_view
from ledger.sessions import CSRF_COOKIE
from ledger.workbench import desk
from ledger.workbench.pages import (
    HERE,
    STATIC_PREFIX,
    WorkbenchUserDep,
    engineer_scope,
    may,
    new_idempotency_key,
    render,
    sees_all,
    takes_calls,
)
from ledger.workbench.submit import Submitted, submit
from ledger.workbench.words import word

router = APIRouter(prefix="/workbench", include_in_schema=False, route_class=PageRoute)
TextQ = Annotated[str | None, Query(max_length=200)]
_READS_QUEUES = frozenset(Role) - {Role.CUSTOMER, Role.SYSTEM}


@router.get("")
def home(request: Request, user: WorkbenchUserDep) -> Response:
    """The workbench's start: the pages this user's role may open."""
    return render(request, "workbench/home.html", {"user": user, "page": "home"})


def _scope(user: User) -> str | None:
    if user.role not in _READS_QUEUES:
        raise Forbidden
    return engineer_scope(user)


# --------------------------------------------------------------------------- queues, search


@router.get("/queues")
def queues_page(request: Request, user: WorkbenchUserDep, tab: TextQ = None) -> Response:
    scope = _scope(user)
    chosen = tab if tab in desk.QUEUE_TABS else ("mine" if scope else "unassigned")
    view = desk.load_queues(ledger_of(request), user, scope)
    engineers = [name for name, _ in view.workload]
    return render(
        request,
        "workbench/queues.html",
        {
            "user": user,
            "page": "queues",
            "tab": chosen,
            "tabs": desk.QUEUE_TABS,
            "view": view,
            "engineers": engineers,
            "may_dispatch": may(user, "dispatch"),
            "key": new_idempotency_key,
        },
    )


@router.get("/search")
def search_page(request: Request, user: WorkbenchUserDep, q: TextQ = None) -> Response:
    scope = _scope(user)
    rows = desk.load_search(ledger_of(request), q or "", scope) if q else []
    return render(
        request,
        "workbench/search.html",
        {"user": user, "page": "search", "q": q or "", "rows": rows},
    )


# --------------------------------------------------------------------------- the ticket


def _ticket_context(request: Request, user: User, number: str) -> dict[str, Any]:
    ledger = ledger_of(request)
    try:
        ticket = ledger.tickets.get(number)
    except TicketNotFound:
        raise PageNotFound from None
    if not sees_all(user) and (ticket.engineer or "").strip() != user.name:
        raise PageNotFound
    sla, now = desk.load_ticket_sla(ledger, ticket.number)
    history = history_view(ledger.tickets.history(ticket.id), None, ledger.tz)
    return {
        "user": user,
        "page": "ticket",
        "ticket": ticket,
        "actions": desk.available_actions(ledger, user, ticket),
        "action_fields": desk.ACTION_FIELDS,
        "notes": [c for c in desk.NOTE_COMMANDS if may(user, c)],
        "clocks": desk.ticket_clocks(sla, now),
        "sla": None if sla is None else desk.sla_state(sla, now),
        "history": history,
        "may_attach": may(user, "attach"),
        "evidence_kinds": sorted((k.value for k in EvidenceKind), key=lambda k: k != "photo"),
        "key": new_idempotency_key,
        "errors": {},
        "message": None,
        "failed": None,
        "values": {},
    }


@router.get("/tickets/{number}")
def ticket_page(request: Request, user: WorkbenchUserDep, number: str) -> Response:
    context = _ticket_context(request, user, number)
    done = request.query_params.get("done")
    context["done"] = done if done in (*desk.ACTION_FIELDS, *desk.NOTE_COMMANDS) else None
    return render(request, "workbench/ticket.html", context)


async def _form(request: Request) -> tuple[dict[str, str], bool, str | None]:
    """The form's fields (without the CSRF token and the idempotency key), whether its
    CSRF token matches the browser's cookie, and its idempotency key."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    token = fields.pop("csrf", "")
    key = fields.pop("idempotency_key", "") or None
    ok = signer_of(request).csrf_ok(request.cookies.get(CSRF_COOKIE), token)
    return fields, ok, key


@router.post("/tickets/{number}/do/{command}")
async def ticket_action(
    request: Request, user: WorkbenchUserDep, number: str, command: str
) -> Response:
    """One button's (or a note's) form: written as the write API writes it; back to the
    page, or the page again with the form's errors beside its fields."""
    if command not in (*desk.ACTION_FIELDS, *desk.NOTE_COMMANDS):
        raise PageNotFound
    fields, csrf_ok, key = await _form(request)
    if not csrf_ok:
        raise Forbidden
    allowed = set(desk.ACTION_FIELDS.get(command, ("text",)))
    fields = {k: v for k, v in fields.items() if k in allowed}
    done: Submitted = await anyio.to_thread.run_sync(
        lambda: submit(request, user, command, fields, number, key)
    )
    if done.ok:
        return RedirectResponse(f"/workbench/tickets/{quote(number)}?done={command}", 303)
    context = await anyio.to_thread.run_sync(lambda: _ticket_context(request, user, number))
    context |= {"errors": done.errors, "message": done.message, "failed": command}
    context["values"] = fields
    return render(request, "workbench/ticket.html", context, status_code=done.status)


@router.get("/tickets/{number}/files/{sha256}")
def ticket_file(request: Request, user: WorkbenchUserDep, number: str, sha256: str) -> Response:
    """An attachment for the page's preview (the API's download, with the session)."""
    ledger = ledger_of(request)
    return api_evidence._download("ticket", ledger, request, user, number, sha256)


# --------------------------------------------------------------------------- intake


def _intake_context(
    request: Request, user: User, q: str, contract_id: str | None, severity: str | None
) -> dict[str, Any]:
    ledger = ledger_of(request)
    language = lang(request)
    contracts = desk.load_contracts_list(ledger)
    matches = desk.find_contracts(contracts, q, desk.contracts_by_phone(ledger, q) if q else ())
    chosen = next((c for c in contracts if c.contract_id == contract_id), None)
    level = Severity(severity) if severity in {s.value for s in Severity} else Severity.GENERAL
    context: dict[str, Any] = {
        "user": user,
        "page": "intake",
        "q": q,
        "matches": matches,
        "contract": chosen,
        "severity": level.value,
        "severities": [s.value for s in Severity],
        "key": new_idempotency_key(),
        "errors": {},
        "message": None,
        "values": {},
    }
    if chosen is not None:
        policy = chosen.latest.policy
        today = ledger.clock.now().astimezone(ledger.tz).date()
        metric_words = {m: word(f"metric:{m}", language) for m in policy.metric_definitions}
        context |= {
            "policy": policy,
            "promises": {
                s.value: desk.promise_text(policy, s, metric_words, language) for s in Severity
            },
            "in_warranty": desk.in_warranty(policy, today),
            "remembered": desk.remembered(desk.contract_tickets(ledger, chosen.contract_id)),
        }
    return context


@router.get("/intake")
def intake_page(
    request: Request,
    user: WorkbenchUserDep,
    q: TextQ = None,
    contract: TextQ = None,
    severity: TextQ = None,
) -> Response:
    if not takes_calls(user):
        raise Forbidden
    context = _intake_context(request, user, q or "", contract, severity)
    return render(request, "workbench/intake.html", context)


INTAKE_FIELDS = (
    "contract",
    "customer",
    "contact_name",
    "contact_phone",
    "site",
    "device",
    "category",
    "severity",
    "description",
    "channel",
    "external_ref",
)


@router.post("/intake")
async def intake_submit(request: Request, user: WorkbenchUserDep) -> Response:
    if not takes_calls(user):
        raise Forbidden
    fields, csrf_ok, key = await _form(request)
    if not csrf_ok:
        raise Forbidden
    fields = {k: v for k, v in fields.items() if k in INTAKE_FIELDS}
    done: Submitted = await anyio.to_thread.run_sync(
        lambda: submit(request, user, "report", fields, None, key)
    )
    if done.ok:
        return RedirectResponse(f"/workbench/tickets/{quote(done.number or '')}?done=report", 303)
    context = await anyio.to_thread.run_sync(
        lambda: _intake_context(request, user, "", fields.get("contract"), fields.get("severity"))
    )
    context |= {"errors": done.errors, "message": done.message, "values": fields}
    context["key"] = key or context["key"]
    return render(request, "workbench/intake.html", context, status_code=done.status)


def install(app: FastAPI) -> None:
    """Add the workbench to the app (after the dashboard: its login handles ours)."""
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=HERE / "static"), "workbench")
    app.include_router(router)
    from ledger.workbench import phone  # the engineer's phone pages (field)

    app.include_router(phone.router)
    from ledger.workbench import quality_web  # the quality / 总工办 forms (quality)

    app.include_router(quality_web.router)
