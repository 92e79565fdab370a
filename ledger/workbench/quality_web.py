"""The quality department's and 总工办's pages (``/workbench/quality``): the return-visit card
(the survey's A/B/C/D scores with the live total and band, opinions, the customer's
signature, the audit of the ticket's service form), the corrective-action card box by box,
the complaint form and card.

Each box is a form, drawn only when the record's state offers it and the role matrix lets
the user submit it (:mod:`ledger.workbench.quality`); every post goes through the write
API's command path (:func:`ledger.workbench.submit.submit`) with the idempotency key the
form was rendered with, so a double submit records once and a forbidden post is refused
there. A refused form comes back with what was typed and the errors by field, in the page's
language; a recorded one redirects to its card (post / redirect / get).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from ledger.api.evidence import _download
from ledger.bootstrap import Ledger
from ledger.commands.application import NotFound
from ledger.commands.registry import QUALITY_COMMANDS
from ledger.commands.users import User
from ledger.dashboard.pages import PageNotFound, ledger_of, signer_of
from ledger.dashboard.web import PageRoute
from ledger.domain.numbering import Series
from ledger.domain.values import Role
from ledger.projections.complaints import list_complaints
from ledger.projections.corrective_actions import list_actions
from ledger.projections.visits import list_visits
from ledger.reports.common import caught_up
from ledger.sessions import CSRF_COOKIE
from ledger.workbench.pages import (
    NAV,
    NavItem,
    WorkbenchUserDep,
    may,
    new_idempotency_key,
    render,
    sees_all,
)
from ledger.workbench.quality import (
    ACTION_BOXES,
    FORMS,
    FormView,
    Rejected,
    action_steps,
    card_forms,
    command_fields,
    complaint_steps,
    form_view,
    satisfaction_scale,
    visit_steps,
)
from ledger.workbench.submit import Submitted, submit

router = APIRouter(prefix="/workbench/quality", include_in_schema=False, route_class=PageRoute)

QUALITY_MODELS = ("visits", "corrective_actions", "complaints")
LISTED = 20
"""Rows per list on the quality page."""
SCALE = satisfaction_scale()
IN_FLIGHT_WAITS = 20
"""A double submit whose first post is still being answered waits for it (0.1 s a try)."""


@dataclass(frozen=True)
class RecordKind:
    """A kind of quality record as the pages handle it."""

    path: str
    series: Series
    create: str
    steps: Callable[[Any], list[str]]
    template: str

    def may_read(self, user: User) -> bool:
        """Whether ``user`` sees this kind's cards: a role that reads every ticket, or one
        that works this kind's boxes (never a customer: a card names other customers)."""
        if user.role is Role.CUSTOMER:
            return False
        prefix = self.create.split("_", 1)[0] + "_"
        works = any(may(user, c) for c in QUALITY_COMMANDS if c.startswith(prefix))
        return sees_all(user) or works


KINDS: dict[str, RecordKind] = {
    "visits": RecordKind(
        "visits", Series.VISIT, "visit_schedule", visit_steps, "workbench/quality_visit.html"
    ),
    "actions": RecordKind(
        "actions",
        Series.CORRECTIVE_ACTION,
        "action_raise",
        action_steps,
        "workbench/quality_action.html",
    ),
    "complaints": RecordKind(
        "complaints",
        Series.COMPLAINT,
        "complaint_receive",
        complaint_steps,
        "workbench/quality_complaint.html",
    ),
}


def _uses_quality_pages(user: User) -> bool:
    return any(may(user, command) for command in FORMS)


NAV.append(NavItem("quality", "/workbench/quality", _uses_quality_pages))


# --------------------------------------------------------------------------- reading


def _kind(path: str) -> RecordKind:
    kind = KINDS.get(path)
    if kind is None:
        raise PageNotFound
    return kind


def _record(ledger: Ledger, kind: RecordKind, number: str) -> Any:
    try:
        return ledger.quality.get(number, kind.series)
    except NotFound:
        raise PageNotFound from None


def _step_url(kind: RecordKind, number: str, command: str) -> str:
    return f"/workbench/quality/{kind.path}/{number}/{command}"


def _card(
    request: Request,
    user: User,
    kind: RecordKind,
    number: str,
    *,
    rejected: Rejected | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    if not kind.may_read(user):
        raise PageNotFound
    ledger = ledger_of(request)
    record = _record(ledger, kind, number)
    forms, hidden = card_forms(
        kind.steps(record),
        lambda command: may(user, command),
        lambda command: _step_url(kind, record.number, command),
        new_idempotency_key,
        rejected,
    )
    context = {
        "user": user,
        "page": "quality",
        "record": record,
        "kind": kind.path,
        "forms": forms,
        "hidden_steps": hidden,
        "message": message,
        "done": request.query_params.get("done"),
        "bands": json.dumps(SCALE.as_data(_lang(request)), ensure_ascii=False),
        "scale": SCALE,
        "boxes": ACTION_BOXES,
        "tz": ledger.tz,
    }
    return render(request, kind.template, context, status_code=status_code)


def _lang(request: Request) -> str:
    from ledger.dashboard.pages import lang

    return lang(request)


@router.get("")
def quality_home(request: Request, user: WorkbenchUserDep) -> Response:
    """What is waiting: visits to make, audits to give, open actions and complaints (for
    the roles that read every record), and the forms that start a record."""
    ledger = ledger_of(request)
    lists: dict[str, list[dict[str, Any]]] = {}
    if sees_all(user):
        with caught_up(ledger, QUALITY_MODELS) as (conn, _now):
            lists = {
                "scheduled": list_visits(conn, status="scheduled", limit=LISTED),
                "audits": list_visits(conn, audit="pending", limit=LISTED),
                "actions": list_actions(conn, state="open", limit=LISTED),
                "complaints": list_complaints(conn, state="open", limit=LISTED),
            }
    context = {
        "user": user,
        "page": "quality",
        "lists": lists,
        "starts": [k for k in KINDS.values() if may(user, k.create)],
        "tz": ledger.tz,
    }
    return render(request, "workbench/quality_home.html", context)


@router.get("/{kind_path}/new")
def new_record(request: Request, user: WorkbenchUserDep, kind_path: str) -> Response:
    """The form that starts a record (shown only to the roles that may)."""
    kind = _kind(kind_path)
    defaults = {k: v for k, v in request.query_params.items() if k in _field_names(kind.create)}
    if kind.create == "visit_schedule":
        defaults.setdefault("visitor", user.name)
    return _new_page(request, user, kind, defaults=defaults)


def _field_names(command: str) -> set[str]:
    return {spec.name for spec in FORMS[command]}


def _new_page(
    request: Request,
    user: User,
    kind: RecordKind,
    *,
    defaults: dict[str, str] | None = None,
    rejected: Rejected | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    if not may(user, kind.create):
        raise PageNotFound
    form: FormView = form_view(
        kind.create,
        f"/workbench/quality/{kind.path}/new",
        new_idempotency_key,
        defaults=defaults,
        rejected=rejected,
    )
    context = {
        "user": user,
        "page": "quality",
        "kind": kind.path,
        "form": form,
        "message": message,
    }
    return render(request, "workbench/quality_new.html", context, status_code=status_code)


EVIDENCE_KINDS = {"visits": "visit", "actions": "action"}
"""The kinds whose cards hold files (the evidence API's names for them)."""


@router.get("/{kind_path}/{number}/files/{sha256}")
def record_file(
    request: Request, user: WorkbenchUserDep, kind_path: str, number: str, sha256: str
) -> Response:
    """A file of a card (the customer's signature), for an ``<img>`` on the page: the
    evidence API's download (re-hashed before it is sent; who may see it is its rule) with
    the page's session, as an image cannot send the API's credentials."""
    kind = _kind(kind_path)
    if kind_path not in EVIDENCE_KINDS or not kind.may_read(user):
        raise PageNotFound
    ledger = ledger_of(request)
    try:
        return _download(EVIDENCE_KINDS[kind_path], ledger, request, user, number, sha256)
    except HTTPException as e:
        if e.status_code in (403, 404):
            raise PageNotFound from None
        raise


@router.get("/{kind_path}/{number}")
def record_card(request: Request, user: WorkbenchUserDep, kind_path: str, number: str) -> Response:
    return _card(request, user, _kind(kind_path), number)


# --------------------------------------------------------------------------- writing


async def _typed(request: Request) -> tuple[dict[str, str], str | None, bool]:
    """The form's fields, its idempotency key, and whether its CSRF token is good."""
    form = await request.form()
    typed = {k: v for k, v in form.items() if isinstance(v, str)}
    csrf_ok = signer_of(request).csrf_ok(request.cookies.get(CSRF_COOKIE), typed.get("csrf"))
    return typed, typed.get("idempotency_key") or None, csrf_ok


def _submit_waiting(
    request: Request,
    user: User,
    command: str,
    fields: dict[str, Any],
    subject: str | None,
    key: str | None,
) -> Submitted:
    """Submit; a double submit arriving while the first is being answered (409 on its key)
    waits for that answer and gets it again."""
    done = submit(request, user, command, fields, subject=subject, idempotency_key=key)
    for _ in range(IN_FLIGHT_WAITS):
        if done.ok or done.status != 409 or key is None:
            break
        time.sleep(0.1)
        done = submit(request, user, command, fields, subject=subject, idempotency_key=key)
    return done


def _rejected(command: str, typed: dict[str, str], done: Submitted, key: str | None) -> Rejected:
    errors = () if done.message is None else (done.message,)
    return Rejected(command, typed, done.errors, errors, key or new_idempotency_key())


def _csrf_refused(request: Request) -> Response:
    from ledger.dashboard.pages import plain

    return plain("CSRF token missing or wrong", 403)


@router.post("/{kind_path}/new")
async def create_record(request: Request, user: WorkbenchUserDep, kind_path: str) -> Response:
    kind = _kind(kind_path)
    typed, key, csrf_ok = await _typed(request)
    if not csrf_ok:
        return _csrf_refused(request)
    fields = command_fields(kind.create, typed)
    done = await anyio.to_thread.run_sync(
        lambda: _submit_waiting(request, user, kind.create, fields, None, key)
    )
    if done.ok and may(user, kind.create) and kind.may_read(user):
        return RedirectResponse(
            f"/workbench/quality/{kind.path}/{done.number}?done={kind.create}", 303
        )
    if done.ok:  # a customer's complaint: recorded, but its card is not theirs to read
        return await anyio.to_thread.run_sync(
            lambda: _new_page(request, user, kind, message=f"recorded:{done.number}")
        )
    rejected = _rejected(kind.create, typed, done, key)
    return await anyio.to_thread.run_sync(
        lambda: (
            _new_page(
                request,
                user,
                kind,
                rejected=rejected,
                message=done.message,
                status_code=done.status,
            )
            if may(user, kind.create)
            else _refused_page(request, user, done)
        )
    )


@router.post("/{kind_path}/{number}/{command}")
async def record_step(
    request: Request, user: WorkbenchUserDep, kind_path: str, number: str, command: str
) -> Response:
    kind = _kind(kind_path)
    if (
        command not in FORMS
        or command == kind.create
        or not command.startswith(kind.create.split("_")[0])
    ):
        raise PageNotFound
    typed, key, csrf_ok = await _typed(request)
    if not csrf_ok:
        return _csrf_refused(request)
    fields = command_fields(command, typed)
    done = await anyio.to_thread.run_sync(
        lambda: _submit_waiting(request, user, command, fields, number, key)
    )
    if done.ok:
        return RedirectResponse(f"/workbench/quality/{kind.path}/{number}?done={command}", 303)
    if not kind.may_read(user):
        return await anyio.to_thread.run_sync(lambda: _refused_page(request, user, done))
    rejected = _rejected(command, typed, done, key)
    return await anyio.to_thread.run_sync(
        lambda: _card(
            request,
            user,
            kind,
            number,
            rejected=rejected,
            message=done.message,
            status_code=done.status,
        )
    )


def _refused_page(request: Request, user: User, done: Submitted) -> Response:
    context = {"user": user, "page": "quality", "message": done.message}
    return render(request, "workbench/quality_refused.html", context, status_code=done.status)
