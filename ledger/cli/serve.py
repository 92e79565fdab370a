"""``ledger serve`` (the HTTP API under uvicorn) and ``ledger user ...`` (who may call it)."""

from __future__ import annotations

import contextlib
import ipaddress
import math
import os
import secrets
import signal
import threading
from collections.abc import Generator
from types import FrameType
from typing import Any

import click
import orjson
from rich.table import Table

from ledger.cli.support import (
    F,
    LedgerGroup,
    Settings,
    console,
    fail,
    json_option,
    pass_settings,
    print_json,
    who_options,
)
from ledger.commands.users import USER_ROLES, User, UserError, Users
from ledger.storage.location import parse_location
from ledger.timeutil import show

LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.01),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="How often an open /feed/stream looks for new events.",
)
@click.option(
    "--keepalive",
    type=click.FloatRange(min=0.1),
    default=15.0,
    show_default=True,
    metavar="SECONDS",
    help="Silence before /feed/stream sends a keep-alive comment.",
)
@click.option(
    "--notify/--no-notify",
    default=False,
    show_default=True,
    help="Also run the notifier (`ledger notify run`) in a background thread.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
)
@click.option(
    "--workers",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="Server processes (uvicorn's workers) sharing the port: PostgreSQL only.",
)
@pass_settings
def serve(
    settings: Settings,
    host: str,
    port: int,
    poll_interval: float,
    keepalive: float,
    notify: bool,
    log_level: str,
    workers: int,
) -> None:
    """Serve the HTTP API (event feed, tickets, SLA report, and every command as a write;
    docs/api.md) and the supervisor dashboard (/dashboard; docs/dashboard.md) until Ctrl-C
    or SIGTERM. API requests need a bearer token from `ledger user add`; the dashboard
    logs in with it."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    if workers > 1 and parse_location(settings.url).kind == "sqlite":
        fail(
            "--workers: a SQLite ledger is served by one process (its writes take one "
            "file lock); serve a PostgreSQL ledger to run more"
        )
    with settings.open() as ledger:  # refuse a missing or old ledger before listening
        users = Users(ledger.engine, ledger.clock, ledger.app)
        users.require_table()
        active = [u for u in users.list() if u.active]
    if not is_loopback(host):
        click.secho(
            f"WARNING: listening on {host}, not a loopback address: the API is reachable from "
            "other machines, and bearer tokens cross the network in clear over plain HTTP. "
            "Put a TLS-terminating proxy in front, or bind 127.0.0.1.",
            err=True,
            fg="red",
            bold=True,
        )
    if not active:
        click.secho(
            "WARNING: no active API user: every request will be refused "
            "(create one with `ledger user add NAME --role auditor`)",
            err=True,
            fg="yellow",
        )
    stream = f"{poll_interval},{keepalive}"
    if workers > 1:  # each worker imports the app by name: its settings go in the environment
        _evidence_settings(settings)  # a bad evidence store is refused before any worker starts
        os.environ |= {
            WORKER_SETTINGS: orjson.dumps(
                [settings.url, settings.tz_name, settings.evidence, stream]
            ).decode(),
            WORKER_SESSION_KEY: secrets.token_hex(32),  # one dashboard login for all workers
        }
        stopping = threading.Event()
        app: Any = "ledger.cli.serve:worker_app"
    else:
        app = _app(settings, stream)
        stopping = app.state.stopping
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        timeout_graceful_shutdown=max(5, math.ceil(3 * poll_interval)),
        workers=workers,
        factory=workers > 1,
    )
    if notify:
        threading.Thread(target=_notify_until, args=(settings, stopping), daemon=True).start()
    if workers > 1:
        try:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        finally:
            stopping.set()
    else:
        _stoppable(uvicorn.Server)(config, stopping).run()


WORKER_SETTINGS = "LEDGER_SERVE_WORKER_SETTINGS"
WORKER_SESSION_KEY = "LEDGER_SERVE_SESSION_KEY"


def worker_app() -> Any:
    """The app of one ``serve --workers N`` process, which uvicorn starts afresh and which
    imports this by name: built from the settings ``serve`` left in the environment."""
    from ledger.sessions import Signer

    url, tz_name, evidence, stream = orjson.loads(os.environ[WORKER_SETTINGS])
    signer = Signer(bytes.fromhex(os.environ[WORKER_SESSION_KEY]))
    return _app(Settings(url, tz_name, evidence), stream, signer)


def _app(settings: Settings, stream: str, signer: Any = None) -> Any:
    """The API and the dashboard on ``settings``' ledger; ``stream``: the event streams'
    poll interval and keep-alive, in seconds (``"1.0,15.0"``)."""
    from ledger.api.routes import StreamSettings
    from ledger.commands.models import Command
    from ledger.commands.registry import build_parsers
    from ledger.domain.model import Immutable, build_validators
    from ledger.web import create_app

    # The models are built on first use (issue 18); a server builds them all before its
    # first request: not in concurrent request threads (older pydantic releases' lazy
    # rebuild is not thread-safe), nor on a client's time.
    build_validators(Immutable, Command)
    build_parsers()
    poll_interval, keepalive = (float(x) for x in stream.split(","))
    app = create_app(settings.open, stream=StreamSettings(poll_interval, keepalive), signer=signer)
    app.state.evidence_settings = _evidence_settings(settings)
    return app


def _evidence_settings(settings: Settings) -> Any:
    from ledger.storage.evidence import EvidenceNotConfigured, EvidenceSettings

    try:
        return EvidenceSettings.from_env(settings.evidence)
    except EvidenceNotConfigured as e:
        fail(str(e))


def _notify_until(settings: Settings, stopping: threading.Event) -> None:
    """``serve --notify``: the notifier on its own connections until the server stops."""
    from ledger.cli.notify import make_notifier

    with settings.open() as ledger:
        make_notifier(ledger).run(stopping)


def _stoppable(base: type[Any]) -> type[Any]:
    """uvicorn's ``Server`` (passed in: uvicorn is imported only to serve), changed in two
    ways. A stop signal also sets the app's ``stopping`` event, so open event streams end
    and the graceful shutdown can finish. And after it, the signal is not raised again (as
    uvicorn does, so that the process dies of it): a requested stop is a clean exit, 0."""

    class Server(base):  # type: ignore[misc]
        def __init__(self, config: Any, stopping: threading.Event) -> None:
            super().__init__(config)
            self.stopping = stopping

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.stopping.set()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Generator[None, None, None]:
            previous = {
                signum: signal.signal(signum, self.handle_exit)
                for signum in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                yield
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    return Server


# --------------------------------------------------------------------------- users


@click.group(cls=LedgerGroup)
def user() -> None:
    """API users (`ledger serve`): who may read the ledger over HTTP, with which token."""


@contextlib.contextmanager
def _users(settings: Settings) -> Generator[Users, None, None]:
    with settings.open() as ledger:
        users = Users(ledger.engine, ledger.clock, ledger.app)
        users.require_table()
        try:
            yield users
        except UserError as e:
            fail(str(e))


def _user_json(u: User, settings: Settings) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role.value,
        "active": u.active,
        "created_at": show(u.created_at, settings.tz),
        "token_issued_at": show(u.token_issued_at, settings.tz),
        "revoked_at": show(u.revoked_at, settings.tz) or None,
    }


def _issued(u: User, token: str, settings: Settings, as_json: bool, what: str) -> None:
    """The token on stdout (alone, for ``TOKEN=$(ledger user add ...)``), the rest on
    stderr: it is shown this once and never stored."""
    if as_json:
        print_json(_user_json(u, settings) | {"token": token})
    else:
        click.echo(token)
    click.echo(
        f"{what} for {u.name} ({u.role.value}); it is shown only now: keep it secret", err=True
    )


role_choice = click.Choice([r.value for r in USER_ROLES])


def granted_by(f: F) -> F:
    """``--actor`` and ``--actor-role`` (from LEDGER_ACTOR / LEDGER_ROLE): who changes a
    user's access, recorded on its event (``--role`` is the user's own role)."""
    return who_options(
        f, role_option="--actor-role", role_help="Role of the actor (or LEDGER_ROLE): admin."
    )


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=role_choice, help="What the user is.")
@granted_by
@json_option
@pass_settings
def user_add(
    settings: Settings, name: str, role: str, actor: str, actor_role: str, as_json: bool
) -> None:
    """Add a user and print its new token (once): a bearer token for the API, and the
    password of the dashboard's login (engineers: the dashboard only). The grant is
    recorded in the log (who, when, which role; never the token)."""
    with _users(settings) as users:
        added, token = users.add(name, role, actor=actor, actor_role=actor_role)
    _issued(added, token, settings, as_json, "token")


@user.command("token")
@click.argument("name")
@granted_by
@json_option
@pass_settings
def user_token(settings: Settings, name: str, actor: str, actor_role: str, as_json: bool) -> None:
    """Replace a user's token with a new one (printed once); the old one stops working."""
    with _users(settings) as users:
        changed, token = users.reissue(name, actor=actor, actor_role=actor_role)
    _issued(changed, token, settings, as_json, "new token")


@user.command("revoke")
@click.argument("name")
@granted_by
@pass_settings
def user_revoke(settings: Settings, name: str, actor: str, actor_role: str) -> None:
    """End a user's access at once (its token stops working; the user stays listed)."""
    with _users(settings) as users:
        revoked = users.revoke(name, actor=actor, actor_role=actor_role)
    click.echo(f"revoked {revoked.name} at {show(revoked.revoked_at, settings.tz)}")


@user.command("history")
@click.argument("name")
@json_option
@pass_settings
def user_history(settings: Settings, name: str, as_json: bool) -> None:
    """Who granted, re-issued and revoked the user's access, and when (from the log)."""
    with _users(settings) as users:
        events = users.history(name)
    views = [
        {
            "version": e.originator_version,
            "type": type(e).__name__,
            "occurred_at": show(e.occurred_at, settings.tz),
            "recorded_at": show(e.recorded_at, settings.tz),
            "actor": e.actor,
            "role": e.role.value,
            **e.data(),
        }
        for e in events
    ]
    if as_json:
        print_json(views)
        return
    table = Table(title=f"access of {name}")
    for column in ("version", "type", "user_role", "occurred_at", "actor", "role"):
        table.add_column(column)
    for v in views:
        table.add_row(
            str(v["version"]),
            v["type"],
            v.get("user_role", ""),
            v["occurred_at"],
            v["actor"],
            v["role"],
        )
    console().print(table)


@user.command("list")
@json_option
@pass_settings
def user_list(settings: Settings, as_json: bool) -> None:
    """Every API user, revoked ones included."""
    with _users(settings) as users:
        views = [_user_json(u, settings) for u in users.list()]
    if as_json:
        print_json(views)
        return
    table = Table(title=f"{len(views)} API user(s)")
    for column in ("name", "role", "created_at", "token_issued_at", "revoked_at"):
        table.add_column(column)
    for v in views:
        table.add_row(
            v["name"], v["role"], v["created_at"], v["token_issued_at"], v["revoked_at"] or ""
        )
    console().print(table)
