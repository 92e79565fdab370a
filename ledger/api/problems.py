"""Every error of the HTTP API as an RFC 9457 problem (``application/problem+json``):
``type``, ``title``, ``status``, ``detail``, ``instance`` (the request's path) and, for bad
input, ``errors``: one ``{"path", "message"}`` per problem, the field path and the very
text the CLI prints for the same input (``invalid command: path: message``).

The statuses (docs/api.md): 401 no valid token, 403 a role that may not (the role matrix,
or a read its role does not see), 404 no such record (or not one the user sees), 405, 409
a concurrent change or a request with the same ``Idempotency-Key`` still in flight, 412
``If-Match`` no longer matches, 413 a body over the limit, 415 not a JSON body, 422 bad
input or a rule of the ledger refusing it, 503 the database unavailable; 500 only for a
fault of the ledger itself (a stored event unreadable, the chain broken), never for input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.commands.application import ConcurrentChange, NotFound
from ledger.commands.models import CommandError
from ledger.domain.errors import DomainError
from ledger.domain.roles import Forbidden
from ledger.feed.cloudevents import FeedIntegrityError
from ledger.storage.tables import LedgerNotInitialised
from ledger.timeutil import show_error

PROBLEM = "application/problem+json"
TYPES = "urn:ledger:problem:"
"""The prefix of the ledger's own problem types (``urn:ledger:problem:invalid-input``);
an HTTP error with nothing more to say is ``about:blank``."""


class FieldProblem(BaseModel):
    path: str
    message: str


class ProblemBody(BaseModel):
    """RFC 9457's members, plus ``errors`` for bad input."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None


class Problem(Exception):
    """An answer other than success, raised anywhere in a route."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.errors = list(errors)
        self.headers = dict(headers or {})


def invalid(problems: Sequence[str], *, prefix: str = "") -> Problem:
    """A 422 from the CLI's problem lines (``path: message``): each becomes an error."""
    errors = [split_problem(p, prefix) for p in problems]
    return Problem(
        422, "invalid command: " + "; ".join(problems), kind="invalid-input", errors=errors
    )


def split_problem(problem: str, prefix: str = "") -> tuple[str, str]:
    """``"contact_phone: must be ..."`` → ``("contact_phone", "must be ...")``; a problem
    without a field path has the path ``""``."""
    path, sep, message = problem.partition(": ")
    if not sep or " " in path:
        return prefix.rstrip("."), problem
    return prefix + path, message


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    errors: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPES + kind if kind else "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors:
        body["errors"] = [{"path": p, "message": m} for p, m in errors]
    return JSONResponse(body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def documented(description: str) -> dict[str, Any]:
    """An error answer as the OpenAPI document states it."""
    schema = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    schema["properties"]["errors"] = {
        "anyOf": [
            {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["path", "message"],
                },
            },
            {"type": "null"},
        ]
    }
    return {"description": description, "content": {PROBLEM: {"schema": schema}}}


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def _location(loc: Sequence[Any]) -> str:
    """FastAPI's ``("query", "after")`` → ``after``; ``("header", "If-Match")`` → ``If-Match``."""
    parts = [str(p) for p in loc[1:]] if loc and loc[0] in {"query", "header", "path"} else []
    if not parts:
        parts = [str(p) for p in loc]
    return ".".join(parts)


def install(app: FastAPI) -> None:
    """Every error the app answers, as a problem (the dashboard's pages keep their own)."""

    @app.exception_handler(Problem)
    async def problem(request: Request, e: Problem) -> JSONResponse:
        return problem_response(
            request, e.status, e.detail, kind=e.kind, errors=e.errors, headers=e.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, e: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, e.status_code, str(e.detail), headers=e.headers)

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, e: RequestValidationError) -> JSONResponse:
        errors = [
            (_location(item.get("loc", ())), str(item.get("msg", "")).removeprefix("Value error, "))
            for item in e.errors()
        ]
        detail = "; ".join(f"{p}: {m}" if p else m for p, m in errors) or "invalid request"
        return problem_response(request, 422, detail, kind="invalid-input", errors=errors)

    @app.exception_handler(CommandError)
    async def bad_command(request: Request, e: CommandError) -> JSONResponse:
        return await problem(request, invalid(e.problems))

    @app.exception_handler(NotFound)
    async def not_found(request: Request, e: NotFound) -> JSONResponse:
        return problem_response(request, 404, _first_line(e), kind="not-found")

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, e: Forbidden) -> JSONResponse:
        return problem_response(request, 403, _first_line(e), kind="forbidden-role")

    @app.exception_handler(DomainError)
    async def refused(request: Request, e: DomainError) -> JSONResponse:
        tz = request.app.state.ledger.tz
        return problem_response(request, 422, show_error(e, tz), kind="rule-violation")

    @app.exception_handler(ConcurrentChange)
    async def conflict(request: Request, e: ConcurrentChange) -> JSONResponse:
        return problem_response(request, 409, _first_line(e), kind="concurrent-change")

    @app.exception_handler(FeedIntegrityError)
    async def tampered(request: Request, e: FeedIntegrityError) -> JSONResponse:
        return problem_response(request, 500, _first_line(e), kind="chain-broken")

    @app.exception_handler(MapperDeserialisationError)
    async def unreadable(request: Request, e: MapperDeserialisationError) -> JSONResponse:
        return problem_response(request, 500, f"a stored event cannot be read: {_first_line(e)}")

    async def unavailable(request: Request, e: Exception) -> JSONResponse:
        detail = f"database unavailable or unusable: {_first_line(e)}"
        return problem_response(request, 503, detail)

    for storage_error in (PersistenceError, DBAPIError, LedgerNotInitialised):
        app.add_exception_handler(storage_error, unavailable)

    @app.exception_handler(Exception)
    async def internal(request: Request, e: Exception) -> JSONResponse:
        return problem_response(request, 500, f"internal error ({type(e).__name__})")
