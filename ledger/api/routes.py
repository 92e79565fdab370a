"""The HTTP API's read routes (``ledger serve``): the event feed, tickets and the SLA
report, behind bearer tokens (:mod:`ledger.commands.users`). Described in
``docs/api.md``. :mod:`ledger.web` mounts them beside the dashboard's; the open ledger and
the users come from ``app.state`` (set there), the rest from this module's
:func:`install`.

Every JSON shape comes from what the CLI's ``--json`` prints (``ledger.presenters``,
``ledger.reports.sla.report_json``) and every feed event from ``ledger.feed``; this module
only routes, checks parameters and maps errors to status codes.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import Field

from ledger.api import problems
from ledger.api.problems import documented
from ledger.bootstrap import Ledger
from ledger.bounds import DATE_PATTERN, DATE_RANGE, MAX_POSITION, parse_date
from ledger.commands.application import ContractNotFound
from ledger.commands.users import API_ROLES, User, Users
from ledger.domain.audit import DESK
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role
from ledger.feed.cloudevents import (
    BATCH_CONTENT_TYPE,
    BadFeedRequest,
    FeedPage,
    position_of,
    read_feed_page,
    topics_for,
)
from ledger.presenters.tickets import history_view, sla_view, ticket_view
from ledger.reports import sla
from ledger.sessions import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, Signer, session_user
from ledger.timeutil import parse_time

MAX_PAGE = 1000
"""The most events one ``GET /feed`` returns."""

Position = Annotated[int, Field(ge=0, le=MAX_POSITION)]
"""A chain position (``after``, ``Last-Event-ID``): 0 … 2**63 - 1 (ledger.bounds)."""
DateText = Annotated[str, Field(json_schema_extra={"format": "date", "pattern": DATE_PATTERN})]
"""A date ``YYYY-MM-DD`` from 1990-01-01 to 2199-12-31; the schema states it, and
:func:`ledger.bounds.parse_date` checks it with a message that names the range."""


@dataclass(frozen=True)
class StreamSettings:
    """How ``GET /feed/stream`` follows the log."""

    poll_interval: float = 1.0
    """Seconds between reads of the store while caught up (also how soon a stream notices
    the server stopping)."""
    keepalive: float = 15.0
    """Seconds of silence before a keep-alive comment (which also re-checks the token)."""
    batch: int = 500
    """Events read per query."""


class CloudEventsBatchResponse(JSONResponse):
    media_type = BATCH_CONTENT_TYPE


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: documented("No bearer token, or not a valid one."),
    403: documented("The token's user has a role that does not read this."),
    422: documented("A bad parameter: each in `errors`, with its path."),
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: documented("No such ticket, or not one the user sees.")
}

READS_EVERYTHING: frozenset[Role] = frozenset(API_ROLES)
"""Who reads the whole feed, the SLA report and every ticket (as on the dashboard)."""
READS_TICKETS: frozenset[Role] = READS_EVERYTHING | DESK | {Role.ADMIN}
"""Who reads any ticket (and its history): besides those, the hotline and the managers,
who act on any ticket, and the administrator. An engineer reads the tickets dispatched to
an engineer of the user's name (the dashboard's rule); a customer reads none (the write's
answer shows what it recorded)."""

# --------------------------------------------------------------------------- dependencies

_bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `ledger user add NAME --role ROLE`.",
)


def _unauthorized(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(401, detail, headers={"WWW-Authenticate": challenge})


def authenticated(
    request: Request, credentials: HTTPAuthorizationCredentials | None, missing: str
) -> User:
    """The user the request's bearer token belongs to, or, without one, the browser
    session's (a workbench page's JavaScript): its cookie counts only with the page's CSRF
    token in ``X-CSRF-Token`` (a cookie alone is what a forged cross-site request brings).
    401 without a valid credential, ``missing`` saying what to send; 403 for a session
    without its CSRF token."""
    users: Users = request.app.state.users
    if credentials is None:
        signer: Signer | None = getattr(request.app.state, "signer", None)
        cookie = request.cookies.get(SESSION_COOKIE)
        if signer is None or cookie is None:
            raise _unauthorized(missing)
        now = request.app.state.ledger.clock.now()
        session = session_user(signer, users, cookie, now)
        if session is None:
            raise _unauthorized("session expired or ended: log in again", "invalid_token")
        if not signer.csrf_ok(request.cookies.get(CSRF_COOKIE), request.headers.get(CSRF_HEADER)):
            raise HTTPException(
                403, f"a session cookie needs the page's CSRF token in the {CSRF_HEADER} header"
            )
        return session
    user = users.authenticate(credentials.credentials)
    if user is None:
        raise _unauthorized("invalid or revoked token", "invalid_token")
    return user


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the request's bearer token (or session, :func:`authenticated`) belongs to;
    401 without a valid one."""
    return authenticated(
        request,
        credentials,
        "missing bearer token: send `Authorization: Bearer <token>` "
        "(an administrator creates one with `ledger user add`)",
    )


def reader(user: Annotated[User, Depends(current_user)]) -> User:
    """A user whose role reads everything (the feed, the reports); 403 for the others."""
    if user.role not in READS_EVERYTHING:
        raise HTTPException(
            403,
            f"the feed and the reports are for {', '.join(r.value for r in API_ROLES)}; "
            f"role {user.role.value} reads the tickets it works on (GET /tickets/{{ticket}})",
        )
    return user


def may_read(user: User, ticket: Ticket) -> None:
    """Refuse a ticket the user does not see: 403 for a role that reads no ticket, 404
    (as for a ticket that does not exist) for an engineer's ticket of someone else."""
    if user.role in READS_TICKETS:
        return
    if user.role is Role.ENGINEER:
        if ticket.engineer is not None and ticket.engineer.strip() == user.name:
            return
        raise HTTPException(404, f"no ticket {ticket.number} dispatched to {user.name}")
    raise HTTPException(403, f"role {user.role.value} reads no ticket over the API")


async def current_ledger(request: Request) -> Ledger:
    """``async``: it does no I/O, and FastAPI runs a plain ``def`` dependency in the thread
    pool, a thread hop on every request for a dictionary read (issue 18)."""
    ledger: Ledger = request.app.state.ledger
    return ledger


def _bad_param(name: str, message: str, value: Any) -> RequestValidationError:
    """A 422 shaped like FastAPI's own (``detail``: a list of ``loc``/``msg``/``type``)."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


def _date_param(name: str, text: str | None) -> date | None:
    """A date parameter, or a 422 naming the dates allowed."""
    if text is None:
        return None
    try:
        return parse_date(text, name)
    except ValueError as e:
        raise _bad_param(name, str(e), text) from None


async def feed_types(  # no I/O: async spares a thread hop (see current_ledger)
    types: Annotated[
        list[Annotated[str, Field(min_length=1)]] | None,
        Query(
            alias="type",
            description="Only types matching this pattern (e.g. `ledger.ticket.*`); "
            "repeat for several.",
        ),
    ] = None,
) -> tuple[str, ...]:
    """The ``type`` patterns, checked before a response starts (a stream cannot turn
    into a 422 once it has begun)."""
    wanted = tuple(types or ())
    try:
        topics_for(wanted)
    except BadFeedRequest as e:
        raise _bad_param("type", str(e), list(wanted)) from None
    return wanted


LedgerDep = Annotated[Ledger, Depends(current_ledger)]
UserDep = Annotated[User, Depends(current_user)]
ReaderDep = Annotated[User, Depends(reader)]
TypesDep = Annotated[tuple[str, ...], Depends(feed_types)]


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


# --------------------------------------------------------------------------- routes


router = APIRouter()
"""The API's endpoints; :func:`install` adds them to an app."""


@router.get(
    "/feed",
    tags=["feed"],
    response_class=CloudEventsBatchResponse,
    responses={
        200: {
            "description": "A CloudEvents batch, oldest first. Resume with "
            "`after` = the `X-Next-After` header (also in `Link: rel=next`).",
            "content": {BATCH_CONTENT_TYPE: {"schema": {"type": "array", "items": {}}}},
        },
        **_ERRORS,
    },
)
def feed(
    request: Request,
    ledger: LedgerDep,
    _: ReaderDep,
    after: Annotated[Position, Query(description="Chain position to start after.")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="At most this many.")] = 100,
    types: TypesDep = (),
) -> Response:
    """Events after chain position `after`, in order: every event exactly once across
    pages."""
    page = _read_page(request.app, ledger, after, limit, types)
    next_url = request.url.include_query_params(after=page.last_position)
    link = f"{next_url.path}?{next_url.query}"
    return CloudEventsBatchResponse(
        page.events,
        headers={"X-Next-After": str(page.last_position), "Link": f'<{link}>; rel="next"'},
    )


@router.get(
    "/feed/stream",
    tags=["feed"],
    response_class=EventSourceResponse,
    responses=_ERRORS,
)
async def feed_stream(
    request: Request,
    ledger: LedgerDep,
    _: ReaderDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    types: TypesDep = (),
    after: Annotated[Position, Query(description="Chain position to start after.")] = 0,
    last_event_id: Annotated[
        Position | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this position (wins over `after`).",
        ),
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events, one per ledger event (`id` = chain position, `event` = its
    CloudEvents type, `data` = the CloudEvent), then new ones as they are recorded."""
    assert credentials is not None  # current_user let the request through
    app_ = request.app
    settings: StreamSettings = app_.state.stream
    stopping: threading.Event = app_.state.stopping
    users: Users = app_.state.users
    position = after if last_event_id is None else last_event_id
    quiet_since = anyio.current_time()
    token = credentials.credentials
    while not stopping.is_set():
        page = await anyio.to_thread.run_sync(
            _read_page, app_, ledger, position, settings.batch, types
        )
        # Checked after the read: no event committed after a revocation (the revocation
        # itself is one) reaches the revoked user.
        if page.events and await anyio.to_thread.run_sync(users.authenticate, token) is None:
            return
        for event in page.events:
            yield ServerSentEvent(
                id=str(position_of(event)),
                event=event["type"],
                raw_data=orjson.dumps(event).decode(),
            )
        position = page.last_position
        if page.events:
            quiet_since = anyio.current_time()
            continue
        if anyio.current_time() - quiet_since >= settings.keepalive:
            if await anyio.to_thread.run_sync(users.authenticate, token) is None:
                return  # revoked (or replaced) while streaming
            yield ServerSentEvent(comment="keep-alive")
            quiet_since = anyio.current_time()
        await anyio.sleep(settings.poll_interval)


ETAG_HEADER: dict[str, Any] = {
    "ETag": {
        "description": 'The ticket\'s version, a strong tag (`"6"`): send it back in '
        "`If-Match` to write only if the ticket has not changed meanwhile.",
        "schema": {"type": "string"},
    }
}


def etag(version: int) -> str:
    return f'"{version}"'


@router.get(
    "/tickets/{ticket}",
    tags=["tickets"],
    responses={
        200: {"description": "The ticket.", "headers": ETAG_HEADER},
        **_ERRORS,
        **_NOT_FOUND,
    },
)
def ticket(ledger: LedgerDep, user: UserDep, ticket: str, response: Response) -> dict[str, Any]:
    """A ticket's current state, rebuilt from its events, and its SLA verdicts now (as
    `ledger ticket show --json`). `ticket`: its number (T-2026-000123) or id. The `ETag`
    is its version."""
    found = ledger.tickets.get(ticket)
    may_read(user, found)
    response.headers["ETag"] = etag(found.version)
    return ticket_view(found, ledger.tz) | {"sla": sla_view(ledger.queries.judge(found), ledger.tz)}


@router.get("/tickets/{ticket}/history", tags=["tickets"], responses={**_ERRORS, **_NOT_FOUND})
def ticket_history(ledger: LedgerDep, user: UserDep, ticket: str) -> list[dict[str, Any]]:
    """Every event of a ticket, in order, back-dated ones flagged (as `ledger ticket
    history --json`)."""
    if user.role not in READS_TICKETS:
        may_read(user, ledger.tickets.get(ticket))
    events, policy = ledger.queries.history(ticket)
    return history_view(events, policy, ledger.tz)


@router.get("/reports/sla", tags=["reports"], responses=_ERRORS)
def report_sla(
    ledger: LedgerDep,
    _: ReaderDep,
    date_from: Annotated[
        DateText | None,
        Query(alias="from", description=f"First local date of report ({DATE_RANGE})."),
    ] = None,
    date_to: Annotated[
        DateText | None,
        Query(alias="to", description=f"Last local date, included ({DATE_RANGE})."),
    ] = None,
    contract: Annotated[str | None, Query(description="Only this contract.")] = None,
    by: sla.Grouping = "contract",
    as_of: Annotated[
        str | None,
        Query(
            min_length=1,
            description="As the ledger stood then (ISO 8601; naive = server zone; "
            "from 2000 to the end of 2199).",
        ),
    ] = None,
) -> dict[str, Any]:
    """SLA compliance of the tickets reported in the period (as `ledger report sla
    --json`), from the read model caught up with the log first."""
    first, last = (_date_param(name, text) for name, text in (("from", date_from), ("to", date_to)))
    try:
        query = sla.ReportQuery(first, last, contract, by)
    except ValueError as e:
        raise _bad_param("from", str(e), date_from) from None
    when: datetime | None = None
    if as_of is not None:
        try:
            when = parse_time(as_of, ledger.tz)
        except ValueError as e:
            raise _bad_param("as_of", str(e), as_of) from None
    if contract:
        try:
            ledger.contracts.get(contract)
        except ContractNotFound as e:
            raise _bad_param("contract", _first_line(e), contract) from None
    return sla.report_json(sla.sla_report(ledger, query, as_of=when))


def install(app: FastAPI, stream: StreamSettings | None = None) -> None:
    """Add the API to ``app``: its read routes, its write routes (:mod:`ledger.api.writes`),
    the error handlers that answer problems (:mod:`ledger.api.problems`), and how
    ``GET /feed/stream`` follows the log. The app's lifespan sets ``app.state.ledger``,
    ``app.state.users`` and ``app.state.stopping`` (:func:`ledger.web.create_app`)."""
    app.state.stream = stream or StreamSettings()
    app.state.feed_lock = threading.Lock()
    from ledger.api import writes  # it imports this module's dependencies

    problems.install(app)
    app.include_router(router)
    writes.install(app)
    from ledger.api import evidence  # it builds on this module's dependencies

    app.include_router(evidence.router)
    from ledger.api import privacy

    app.include_router(privacy.router)


def _read_page(
    app: FastAPI, ledger: Ledger, after: int, limit: int, types: tuple[str, ...]
) -> FeedPage:
    """A feed page, one read at a time: the feed module's subject cache is not made for
    concurrent threads."""
    with app.state.feed_lock:
        return read_feed_page(ledger, after=after, limit=limit, types=types)
