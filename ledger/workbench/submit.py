"""A workbench form's write: the same path as the write API's (``ledger.api.writes``:
:func:`~ledger.api.writes.execute` — the role matrix, the deciders, the idempotency key,
the answer), so a form and a ``POST /tickets/...`` record the same events the same way.

A form's fields are sent as that endpoint's JSON body (an empty field is left out: "not
given", so a required one is reported missing). What went wrong comes back as
:class:`Submitted` with a message per field in the page's language (the API's problem
``errors``, each path with its English message, mapped to the workbench's words), for the
form to show beside the field; a refusal that is no field's (a rule, the role, a conflict)
as the form's message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import Request

from ledger.api.problems import Problem, invalid
from ledger.api.writes import WriteRoute, execute, write_route
from ledger.commands.application import ConcurrentChange, NotFound
from ledger.commands.models import CommandError
from ledger.commands.registry import COMMANDS
from ledger.commands.users import User
from ledger.dashboard.pages import lang
from ledger.domain.errors import DomainError
from ledger.domain.roles import Forbidden
from ledger.reports.export import Lang
from ledger.timeutil import show_error
from ledger.workbench.words import word

_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^is required$"), "err:required"),
    (re.compile(r"^unknown field$"), "err:unknown"),
    (re.compile(r"^String should have at least 1 character"), "err:empty"),
    (re.compile(r"^String should have at least (?P<n>\d+) characters"), "err:too short"),
    (re.compile(r"^String should have at most (?P<n>\d+) characters?"), "err:too long"),
    (re.compile(r"^String should match pattern '\^(?:\(\?:)?\[0-9\+\(\)\\- \]\+"), "err:phone"),
    # the quality forms' numbers and dates (quality), before any other "Input should be"
    (re.compile(r"^Input should be less than or equal to (?P<n>[\d.]+)"), "err:at most"),
    (re.compile(r"^Input should be greater than or equal to (?P<n>[\d.]+)"), "err:at least"),
    (re.compile(r"^Input should be a valid integer"), "err:whole number"),
    (re.compile(r"^Input should be a valid date"), "err:date"),
    (re.compile(r"^Input should be "), "err:choice"),
    (re.compile(r"datetime|time zone|not a time|Input should be a valid date", re.I), "err:time"),
]
"""The command models' messages (pydantic's and the ledger's) → the workbench's words."""


def field_message(message: str, language: Lang) -> str:
    """A field's problem as the page says it; one the table does not know stays as the
    ledger wrote it in English (never half translated), with a Chinese lead-in apart."""
    for pattern, key in _MESSAGES:
        found = pattern.search(message)
        if found:
            return word(key, language, **found.groupdict())
    if language == "en":
        return message
    return f"{word('err:invalid', language)}（{message}）"


@dataclass(frozen=True)
class Submitted:
    """What a form's write did: the record it left (``number``, ``version``, ``record``:
    the API's answer) or why not (``errors``: field path → message; ``message``: the
    form's own)."""

    status: int
    record: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.record is not None

    @property
    def number(self) -> str | None:
        return None if self.record is None else self.record.get("number")

    @property
    def version(self) -> int | None:
        return None if self.record is None else self.record.get("version")


def route_of(command: str) -> WriteRoute:
    """The write API's endpoint of ``command`` (a registry name)."""
    return write_route(command, COMMANDS[command])


def form_body(fields: dict[str, Any]) -> bytes:
    """The form's fields as the endpoint's JSON body: blank texts left out."""
    kept = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items()}
    return orjson.dumps({k: v for k, v in kept.items() if v not in ("", None)})


def submit(
    request: Request,
    user: User,
    command: str,
    fields: dict[str, Any],
    subject: str | None = None,
    idempotency_key: str | None = None,
) -> Submitted:
    """Write ``command`` (a registry name) with the form's ``fields`` as ``user``, on the
    record ``subject`` (its number; ``None`` for a new record), through the write API's
    :func:`execute`. Runs in the caller's thread (a sync route: the thread pool)."""
    language = lang(request)
    route = route_of(command)
    path = route.path if subject is None else route.path.replace(f"{{{route.subject}}}", subject)
    body = form_body(fields)
    try:
        response = execute(
            request.app, route, user, body, subject, idempotency_key, None, ("POST", path)
        )
    except CommandError as e:
        return _field_problem(invalid(e.problems), language)
    except Problem as e:
        if e.errors:
            return _field_problem(e, language)
        return Submitted(e.status, message=e.detail)
    except Forbidden:
        return Submitted(403, message=word("err:forbidden", language))
    except NotFound:
        return Submitted(404, message=word("err:not found", language))
    except ConcurrentChange:
        return Submitted(409, message=word("err:conflict", language))
    except DomainError as e:
        rule = show_error(e, request.app.state.ledger.tz)
        return Submitted(422, message=f"{word('err:rule', language)}\n{rule}")
    record = orjson.loads(bytes(response.body))
    replayed = response.headers.get("Idempotent-Replayed") == "true"
    return Submitted(response.status_code, record=record, replayed=replayed)


def _field_problem(problem: Problem, language: Lang) -> Submitted:
    errors: dict[str, str] = {}
    for path, message in problem.errors:
        errors.setdefault(path or "", field_message(message, language))
    return Submitted(422, errors=errors, message=word("field error", language))
