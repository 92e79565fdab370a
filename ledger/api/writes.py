"""The write API: every command of the registry as an endpoint, generated from
:data:`~ledger.commands.registry.COMMANDS` (a command added there gets its endpoint), plus
``POST /commands`` (a batch in ``ledger import``'s JSON-lines format). docs/api.md.

Paths are resource-style: a command that makes a record posts to its collection
(``POST /tickets`` reports, ``POST /visits`` schedules), a command on a record to the
record's verb (``POST /tickets/{ticket}/respond``, ``POST /visits/{visit}/chief-review``).
The body is the command's model (``ledger/commands/models.py``) without ``command``,
``actor``, ``role`` and the record's number (in the path): who acts is the token's user,
in the user's role, checked by the same role matrix and deciders as the CLI; a body naming
``actor`` or ``role`` is refused (422). The body is validated by the registry's own
``parse_command`` with the ledger's zone, so every message is the CLI's.

A write may carry ``Idempotency-Key`` (:mod:`ledger.api.idempotency`) and ``If-Match``
(the record's version, as ``GET /tickets/{ticket}``'s ``ETag``): the version the command
was decided on must be the one named, and the store's version conflict makes that
race-free (a concurrent write makes the save fail; planned again, the version no longer
matches: 412). The answer is what the CLI's ``--json`` prints, with the new ``ETag``.
"""

from __future__ import annotations

import inspect
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from uuid import UUID

import anyio
import orjson
import psycopg
from eventsourcing.persistence import IntegrityError
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ledger.api import idempotency
from ledger.api.bodies import (
    JSON,
    MAX_BODY,
    WHO,
    WRITE_ERRORS,
    IfMatchHeader,
    KeyHeader,
    read_body,
)
from ledger.api.examples import EXAMPLES
from ledger.api.idempotency import BadIdempotencyKey, InFlight, Recorded
from ledger.api.problems import Problem, invalid
from ledger.api.routes import ETAG_HEADER, UserDep, etag
from ledger.bootstrap import Ledger
from ledger.commands.application import REPORT_ATTEMPTS, ConcurrentChange
from ledger.commands.import_lines import parse_line
from ledger.commands.models import Command, TicketCommand
from ledger.commands.quality import KINDS
from ledger.commands.quality_models import QualityCommand, QualityCommandBase, RecordCommand
from ledger.commands.registry import COMMANDS, TICKET_COMMANDS, Entry
from ledger.commands.users import User
from ledger.domain.errors import DomainError
from ledger.domain.model import DomainEvent
from ledger.domain.numbering import Series
from ledger.domain.ticket import TicketEvent
from ledger.presenters.quality import record_view
from ledger.presenters.tickets import ticket_view
from ledger.storage.chain import RecordedTimeBackwards

ATTEMPTS = 2
"""A command on a record: one retry on a concurrent change, as the CLI's commands (a new
record, which only competes for its number: ``REPORT_ATTEMPTS``)."""
SERIES = {"visit": Series.VISIT, "action": Series.CORRECTIVE_ACTION, "complaint": Series.COMPLAINT}


@dataclass(frozen=True)
class WriteRoute:
    """One command's endpoint."""

    name: str
    model: type[Command]
    kind: str
    """What it writes: ``ticket``, ``visit``, ``action``, ``complaint``."""
    subject: str | None
    """The path's field naming the record (``ticket``), ``None`` for a new record."""
    verb: str | None

    @property
    def path(self) -> str:
        collection = f"/{self.kind}s"
        if self.subject is None:
            return collection
        return f"{collection}/{{{self.subject}}}/{self.verb}"

    @property
    def creating(self) -> bool:
        return self.subject is None


def write_route(name: str, entry: Entry) -> WriteRoute:
    """Where a registry entry is written: its record kind from its model (a ticket
    command, a command on a numbered record), else a new record of the kind its name
    starts with (``visit_schedule``: visits; ``report``: tickets)."""
    model = entry.model
    if issubclass(model, TicketCommand):
        return WriteRoute(name, model, "ticket", "ticket", name.replace("_", "-"))
    if issubclass(model, RecordCommand):
        subject = model.subject
        verb = name.removeprefix(f"{subject}_").replace("_", "-")
        return WriteRoute(name, model, subject, subject, verb)
    if name in TICKET_COMMANDS or "_" not in name:
        return WriteRoute(name, model, "ticket", None, None)
    return WriteRoute(name, model, name.split("_", 1)[0], None, None)


def write_routes(commands: Mapping[str, Entry] = COMMANDS) -> list[WriteRoute]:
    """Every command's endpoint, but those another module serves (``upload``: a file)."""
    return [write_route(n, e) for n, e in commands.items() if not getattr(e, "upload", False)]


# --------------------------------------------------------------------------- bodies


def command_fields(body: bytes, route: WriteRoute) -> dict[str, Any]:
    """The body's fields, refused when it is no JSON object or names what the path and
    the token say (``command``, the record, ``actor``, ``role``). ``occurred_at`` is the
    model's ``at``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise invalid([f"not valid JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise invalid(["a command must be a JSON object"])
    problems = [f"{name}: {WHO}" for name in ("actor", "role") if name in data]
    if "command" in data:
        problems.append(f"command: given by the path ({route.path}), not the body")
    if route.subject is not None and route.subject in data:
        problems.append(f"{route.subject}: given by the path ({route.path}), not the body")
    if "occurred_at" in data:
        if "at" in data:
            problems.append("occurred_at: the same as at: give one of them")
        else:
            data["at"] = data.pop("occurred_at")
    if problems:
        raise invalid(problems)
    return data


def command_of(
    route: WriteRoute, user: User, body: bytes, subject: str | None, ledger: Ledger
) -> Any:
    """The command the request asks for, as the CLI would build it (``CommandError``)."""
    data = {"command": route.name, **command_fields(body, route)}
    if route.subject is not None:
        data[route.subject] = subject
    data |= {"actor": user.name, "role": user.role.value}
    return parse_line(data, ledger.tz)


# --------------------------------------------------------------------------- executing


def if_match_tags(header: str | None) -> list[str] | None:
    """``If-Match``'s entity tags (``*`` or strong tags; a weak tag never matches)."""
    if header is None:
        return None
    return [tag.strip() for tag in header.split(",") if tag.strip()]


@dataclass
class _Planned:
    events: list[DomainEvent]
    subject: UUID
    recorded: Recorded
    notes: list[str] = field(default_factory=list)


class _Replay(Exception):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded


def _is_integrity_error(error: BaseException) -> bool:
    return isinstance(error, IntegrityError | sqlite3.IntegrityError | psycopg.IntegrityError)


@dataclass
class Write:
    """One write request, planned and saved as ``TicketService.execute`` /
    ``QualityService.execute`` do, with its key saved with its events."""

    ledger: Ledger
    route: WriteRoute
    command: Any
    command_id: str | None
    fingerprint: str
    if_match: list[str] | None

    def plan(self) -> _Planned:
        if self.command_id is not None:
            found = idempotency.lookup(self.ledger.app.recorder, self.command_id)
            if found is not None:  # recorded meanwhile, by a request with the same key
                raise _Replay(found)
        notes: list[str] = []
        if isinstance(self.command, QualityCommandBase):
            plan = self.ledger.quality.plan(cast(QualityCommand, self.command))
            events, subject = plan.events, plan.record.id
            number = f"{plan.record.series.noun} {plan.record.number}"
            notes = list(plan.notes)
        else:
            events = self.ledger.tickets.plan(self.command)
            ticket_event = next(e for e in events if isinstance(e, TicketEvent))
            subject = ticket_event.originator_id
            number = f"ticket {getattr(self.command, 'ticket', subject)}"
        versions = [e.originator_version for e in events if e.originator_id == subject]
        decided_on = min(versions) - 1
        self._check_if_match(decided_on, number)
        status = 201 if self.route.creating else 200
        recorded = Recorded(
            self.fingerprint, self.route.kind, str(subject), max(versions), status, notes
        )
        return _Planned(events, subject, recorded, notes)

    def _check_if_match(self, decided_on: int, number: str) -> None:
        """The version the command was decided on must be the one ``If-Match`` names (a
        new record has none: no tag matches it, not even ``*``)."""
        if self.if_match is None:
            return
        if decided_on > 0 and ("*" in self.if_match or etag(decided_on) in self.if_match):
            return
        now = f"version {decided_on}" if decided_on > 0 else "no version yet (a new record)"
        raise Problem(
            412,
            f"If-Match {', '.join(self.if_match)} does not match: {number} is at {now}; "
            "read it again, then decide",
            kind="precondition-failed",
            headers={"ETag": etag(decided_on)} if decided_on > 0 else None,
        )

    def commit(self, planned: _Planned) -> None:
        keys = [] if self.command_id is None else [planned.recorded.key(self.command_id)]
        try:
            self.ledger.app.save(*planned.events, commands=keys)
        except Exception as e:
            if not _is_integrity_error(e):
                raise
            raise ConcurrentChange(f"{self.route.kind} changed concurrently, retry") from e

    def run(self) -> tuple[Recorded, bool]:
        """What was recorded, and whether it was recorded before (a replay)."""
        try:
            planned = self._commit_retrying()
        except _Replay as replay:
            return self._replayed(replay.recorded), True
        except (ConcurrentChange, DomainError):
            # Refused (or conflicted) only because a request with the same key, in another
            # server, recorded this very command after our lookup: answer its answer.
            found = None
            if self.command_id is not None:
                found = idempotency.lookup(self.ledger.app.recorder, self.command_id)
            if found is None:
                raise
            return self._replayed(found), True
        return planned.recorded, False

    def _commit_retrying(self) -> _Planned:
        """Plan and save as ``commit_retrying`` does (a command on a record: one retry on a
        concurrent change), but a save refused only because a concurrent write was stamped
        later (recorded time never goes backwards) is planned again with a later time, up
        to ``REPORT_ATTEMPTS`` in all: concurrent clients meet that all the time."""
        changes = 0
        attempts = REPORT_ATTEMPTS if self.route.creating else ATTEMPTS
        for attempt in range(REPORT_ATTEMPTS):
            planned = self.plan()
            try:
                self.commit(planned)
            except ConcurrentChange as e:
                last = attempt + 1 >= REPORT_ATTEMPTS
                if isinstance(e.__cause__, RecordedTimeBackwards):
                    if last:
                        raise ConcurrentChange(str(e.__cause__)) from e
                    continue
                changes += 1
                if changes >= attempts or last:
                    raise
                continue
            return planned
        raise AssertionError("unreachable")  # pragma: no cover

    def _replayed(self, recorded: Recorded) -> Recorded:
        if recorded.fingerprint != self.fingerprint:
            raise Problem(
                422,
                "this Idempotency-Key was used for another request (method, path or body): "
                "use a new key for a new request",
                kind="idempotency-key-reused",
            )
        return recorded


def answer(ledger: Ledger, recorded: Recorded, replayed: bool) -> JSONResponse:
    """The answer to a write (the same again for a replay): the record at the version the
    write left it (``ledger ... --json``), its ``ETag``, where it is."""
    record_id = UUID(recorded.record)
    headers = {"ETag": etag(recorded.version)}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if recorded.kind == "ticket":
        ticket = ledger.tickets.get(record_id, version=recorded.version)
        body = ticket_view(ticket, ledger.tz)
        if recorded.status == 201:
            headers["Location"] = f"/tickets/{ticket.number}"
    else:
        kind = KINDS[SERIES[recorded.kind]]
        record = ledger.app.get(record_id, kind.projector, version=recorded.version)
        body = record_view(record, ledger.tz, ledger.clock.now()) | {"notes": recorded.notes}
    return JSONResponse(body, status_code=recorded.status, headers=headers)


def execute(
    app: FastAPI,
    route: WriteRoute,
    user: User,
    body: bytes,
    subject: str | None,
    key: str | None,
    if_match: str | None,
    request_line: tuple[str, str],
) -> Response:
    """Answer one write request (in a worker thread: it blocks on the database)."""
    ledger: Ledger = app.state.ledger
    try:
        parsed_key = idempotency.parse_key(key)
    except BadIdempotencyKey as e:
        raise invalid([str(e)]) from None
    command = command_of(route, user, body, subject, ledger)
    method, path = request_line
    write = Write(
        ledger,
        route,
        command,
        None if parsed_key is None else idempotency.stored_key(user.name, parsed_key),
        idempotency.fingerprint(method, path, body),
        if_match_tags(if_match),
    )
    if write.command_id is None:
        return answer(ledger, *write.run())
    in_flight: InFlight = app.state.in_flight
    with in_flight.holding(write.command_id) as free:
        if not free:
            raise Problem(
                409,
                "a request with this Idempotency-Key is still being answered: retry later",
                kind="idempotency-key-in-flight",
            )
        return answer(ledger, *write.run())


# --------------------------------------------------------------------------- endpoints


def _body_schema(route: WriteRoute, schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema without what the path and the token give; its
    definitions go to ``schemas`` (the document's components)."""
    schema = route.model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    dropped = {"command", "actor", "role", route.subject}
    properties = {k: v for k, v in schema["properties"].items() if k not in dropped}
    properties["occurred_at"] = {**properties["at"], "title": "Occurred At"}
    body = {
        **schema,
        "title": f"{route.model.__name__}Body",
        "properties": properties,
        "required": [k for k in schema.get("required", []) if k not in dropped],
        "additionalProperties": False,
    }
    return body


def _endpoint(route: WriteRoute) -> Callable[..., Awaitable[Response]]:
    """An endpoint whose signature names the route's path field (for the document)."""

    async def endpoint(
        request: Request, user: User, key: str | None, if_match: str | None, **path: str
    ) -> Response:
        body = await read_body(request, MAX_BODY, (JSON,))
        subject = path.get(route.subject) if route.subject else None
        request_line = (request.method, request.url.path)
        return await anyio.to_thread.run_sync(
            lambda: execute(request.app, route, user, body, subject, key, if_match, request_line)
        )

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("user", inspect.Parameter.KEYWORD_ONLY, annotation=UserDep),
        inspect.Parameter(
            "key", inspect.Parameter.KEYWORD_ONLY, annotation=KeyHeader, default=None
        ),
        inspect.Parameter(
            "if_match", inspect.Parameter.KEYWORD_ONLY, annotation=IfMatchHeader, default=None
        ),
    ]
    if route.subject is not None:
        parameters.insert(
            1,
            inspect.Parameter(
                route.subject, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str
            ),
        )
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
    endpoint.__name__ = f"write_{route.name}"
    return endpoint


router = APIRouter()
"""The write endpoints; :func:`install` adds them (and their body schemas) to an app."""
BODY_SCHEMAS: dict[str, Any] = {}
"""The bodies' schemas and their definitions, for the document's components."""

for _route in write_routes():
    _body = _body_schema(_route, BODY_SCHEMAS)
    BODY_SCHEMAS[_body["title"]] = _body
    _content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{_body['title']}"}}
    if _route.name in EXAMPLES:
        _content["examples"] = {_route.name: {"value": EXAMPLES[_route.name]}}
    _status = 201 if _route.creating else 200
    router.add_api_route(
        _route.path,
        _endpoint(_route),
        methods=["POST"],
        tags=[f"{_route.kind}s"],
        summary=" ".join((_route.model.__doc__ or _route.name).split()),
        status_code=_status,
        response_class=JSONResponse,
        responses={
            _status: {"description": "What was recorded: the record now.", "headers": ETAG_HEADER},
            **WRITE_ERRORS,
        },
        openapi_extra={"requestBody": {"required": True, "content": {JSON: _content}}},
    )


def install(app: FastAPI) -> None:
    """Add the write endpoints to ``app``, their body schemas to its document."""
    from ledger.api import batch, reference  # they import this module's pieces

    app.state.in_flight = InFlight()
    app.include_router(router)
    app.include_router(batch.router)
    app.include_router(reference.router)
    document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = document()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(BODY_SCHEMAS)
        return app.openapi_schema or document()

    app.openapi = openapi  # type: ignore[method-assign]
