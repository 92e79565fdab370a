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
from ledger.presenters.contracts import promise_text
from ledger.presenters.tickets import history_view
from ledger.sessions import CSRF_COOKIE
from ledger.workbench import actions, desk, intake
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
from ledger.workbench.submit import Submitted, check, submit
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
def queues_page(
    request: Request,
    user: WorkbenchUserDep,
    tab: TextQ = None,
    page: TextQ = None,
    engineer: TextQ = None,
) -> Response:
    scope = _scope(user)
    chosen = tab if tab in desk.QUEUE_TABS else ("mine" if scope else "unassigned")
    number = int(page) if page and page.isdigit() else 1  # past the last: the last
    view = desk.load_queue(ledger_of(request), user, scope, chosen, page=number, engineer=engineer)
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
    found = desk.load_search(ledger_of(request), q or "", scope) if q else desk.Found([], 0)
    return render(
        request,
        "workbench/search.html",
        {"user": user, "page": "search", "q": q or "", "rows": found.rows, "found": found},
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
    sla, now, at_risk = desk.load_ticket_sla(ledger, ticket.number)
    history = history_view(ledger.tickets.history(ticket.id), None, ledger.tz)
    return {
        "user": user,
        "page": "ticket",
        "ticket": ticket,
        "actions": actions.available_actions(ledger, user, ticket),
        "notes": [c for c in actions.NOTE_COMMANDS if may(user, c)],
        "clocks": desk.ticket_clocks(sla, now),
        "sla": None if sla is None else desk.sla_state(sla, at_risk),
        "history": history,
        "may_attach": may(user, "attach"),
        "evidence_kinds": sorted((k.value for k in EvidenceKind), key=lambda k: k != "photo"),
        "key": new_idempotency_key,
        "errors": {},
        "message": None,
        "failed": None,
        "values": {},
        "local_now": now.astimezone(ledger.tz).strftime("%Y-%m-%dT%H:%M"),
    }


@router.get("/tickets/{number}")
def ticket_page(request: Request, user: WorkbenchUserDep, number: str) -> Response:
    context = _ticket_context(request, user, number)
    done = request.query_params.get("done")
    context["done"] = done if done in (*actions.ACTIONS, *actions.NOTE_COMMANDS) else None
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
    if command not in (*actions.ACTIONS, *actions.NOTE_COMMANDS):
        raise PageNotFound
    fields, csrf_ok, key = await _form(request)
    if not csrf_ok:
        raise Forbidden
    allowed = {f.name for f in actions.form_fields(command)}
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
    return api_evidence.download("ticket", ledger, request, user, number, sha256)


# --------------------------------------------------------------------------- intake


def _intake_context(
    request: Request, user: User, q: str, contract_id: str | None, severity: str | None
) -> dict[str, Any]:
    ledger = ledger_of(request)
    language = lang(request)
    contracts = intake.load_contracts_list(ledger)
    matches = intake.find_contracts(contracts, q, intake.contracts_by_phone(ledger, q) if q else ())
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
                s.value: promise_text(policy, s, metric_words, language) for s in Severity
            },
            "in_warranty": intake.in_warranty(policy, today),
            "remembered": intake.remembered(intake.contract_tickets(ledger, chosen.contract_id)),
            "duplicates": intake.find_duplicates(ledger, chosen.contract_id, policy.customer, ""),
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


@router.get("/intake/duplicates")
def intake_duplicates(
    request: Request,
    user: WorkbenchUserDep,
    contract: TextQ = None,
    customer: TextQ = None,
    device: TextQ = None,
    not_duplicate: TextQ = None,
) -> Response:
    """The open tickets the report being typed may repeat (an htmx fragment of the intake:
    asked again when the customer or the device changes)."""
    if not takes_calls(user):
        raise Forbidden
    values = {"contract": contract or "", "customer": customer or "", "device": device or ""}
    found = _duplicates_of(request, values)
    if found is None:
        raise PageNotFound
    context = {
        "user": user,
        "page": "intake",
        "duplicates": found,
        "errors": {},
        "values": values | ({"not_duplicate": "1"} if not_duplicate else {}),
    }
    return render(request, "workbench/intake.html", context, block="duplicates")


def _duplicates_of(request: Request, fields: dict[str, str]) -> list[intake.Duplicate] | None:
    """The open tickets a report with these form ``fields`` may repeat (its customer: the
    contract's when left blank); ``None`` when there is no such contract."""
    ledger = ledger_of(request)
    contract = ledger.contracts.find(fields.get("contract", ""))
    if contract is None:
        return None
    customer = fields.get("customer", "").strip() or contract.latest.policy.customer
    return intake.find_duplicates(ledger, contract.contract_id, customer, fields.get("device", ""))


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
    confirmed = bool(fields.get("not_duplicate"))
    fields = {k: v for k, v in fields.items() if k in INTAKE_FIELDS}
    language = lang(request)
    repeats: list[intake.Duplicate] | None = []
    if not confirmed:
        repeats = await anyio.to_thread.run_sync(lambda: _duplicates_of(request, fields))
    if repeats:  # open tickets it may repeat: said so (with any field's error), not recorded
        wrong = await anyio.to_thread.run_sync(lambda: check(request, user, "report", fields))
        done = Submitted(
            422,
            errors={**(wrong.errors if wrong else {}), "not_duplicate": word("dup:tick", language)},
            message=word("dup:confirm", language),
        )
    else:
        done = await anyio.to_thread.run_sync(
            lambda: submit(request, user, "report", fields, None, key)
        )
    if done.ok:
        return RedirectResponse(f"/workbench/tickets/{quote(done.number or '')}?done=report", 303)
    context = await anyio.to_thread.run_sync(
        lambda: _intake_context(request, user, "", fields.get("contract"), fields.get("severity"))
    )
    context |= {"errors": done.errors, "message": done.message, "values": fields}
    if context["contract"] is not None:
        context["duplicates"] = repeats or await anyio.to_thread.run_sync(
            lambda: _duplicates_of(request, fields)
        )
    if confirmed:
        context["values"] = fields | {"not_duplicate": "1"}
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
