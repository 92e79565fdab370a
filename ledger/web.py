"""The web app of ``ledger serve``: the API (reads: :mod:`ledger.api.routes`; writes:
:mod:`ledger.api.writes`) and the supervisor dashboard (:mod:`ledger.dashboard.web`)
mounted on one FastAPI app. The two
know nothing of each other; both read the open ledger and the users (:class:`Users`)
that this module puts on ``app.state``.

The app holds **one** :class:`~ledger.bootstrap.Ledger` for its whole life, opened at
startup and closed at shutdown: its event-store recorders and SQLAlchemy engine are
connection pools made for threads (the library's SQLite pool opens its connections with
``check_same_thread=False``; PostgreSQL's is psycopg's), so the sync endpoints, which
uvicorn runs in its thread pool, share it. A ledger per request would open and tear down
those pools on every call.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import tzinfo

import anyio
from fastapi import FastAPI

from ledger.api import routes as api
from ledger.api.routes import StreamSettings
from ledger.bootstrap import Ledger
from ledger.clock import Clock
from ledger.commands.users import Users
from ledger.dashboard import web as dashboard
from ledger.sessions import Signer
from ledger.workbench import web as workbench

LedgerFactory = Callable[[], Ledger]


def create_app(
    ledger: str | LedgerFactory,
    *,
    clock: Clock | None = None,
    tz: tzinfo | None = None,
    stream: StreamSettings | None = None,
    signer: Signer | None = None,
) -> FastAPI:
    """The API and the dashboard on the ledger at URL ``ledger`` (opened with ``clock`` and
    ``tz``), or on the one ``ledger()`` opens (which brings its own clock and zone). The
    ledger is opened when the app starts and closed when it stops; ``app.state.stopping``
    (a ``threading.Event``) ends the open event streams, so set it when the server is asked
    to stop (``ledger serve`` does). ``signer`` signs the dashboard's session cookies (a
    fresh key by default, so restarting the server logs everyone out)."""
    if callable(ledger) and (clock is not None or tz is not None):
        raise TypeError("clock and tz apply to a ledger URL; a factory's ledger brings its own")
    factory: LedgerFactory = (
        ledger if callable(ledger) else (lambda: Ledger.open(ledger, clock=clock, tz=tz))
    )
    stopping = threading.Event()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stopping.clear()
        opened = await anyio.to_thread.run_sync(factory)
        try:
            users = Users(opened.engine, opened.clock, opened.app)
            await anyio.to_thread.run_sync(users.require_table)
            app.state.ledger, app.state.users = opened, users
            yield
        finally:
            stopping.set()
            await anyio.to_thread.run_sync(opened.close)

    app = FastAPI(
        title="ledger",
        summary="The after-sales service ledger: event feed, tickets, SLA, and every command.",
        version="1",
        lifespan=lifespan,
    )
    app.state.stopping = stopping
    api.install(app, stream)
    dashboard.install(app, signer)
    workbench.install(app)
    return app
