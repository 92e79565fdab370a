"""Users and their bearer tokens: who may read and write the ledger over HTTP (the API and the
dashboard, which both turn a presented token into a :class:`User` here).

A user has a name, a :class:`~ledger.domain.values.Role` and one token at a time. The
token is shown once, when it is issued (``ledger user add`` / ``ledger user token``), and
only a salted HMAC-SHA256 of its secret part is stored, so the table leaks nothing usable.
A token reads ``ldg_<key>_<secret>``: ``key`` (16 hex digits) is a public lookup key, so a
check reads one row by key and compares digests in constant time; ``secret`` carries
256 random bits, which is what makes a plain salted hash (rather than a slow password
hash) the right tool.

Who was given access, by whom and when, is recorded in the event log
(:mod:`ledger.domain.access`: ``AccessGranted``, ``TokenReissued``, ``AccessRevoked``), so
the hash chain, ``ledger verify`` and the feed cover it. The credential is not: the log is
published whole through the feed and kept for ever, the wrong home for even a digest of a
token. It lives in a table (``api_users``, :mod:`ledger.storage.api_users`), created by
``ledger init``, which is also the read side the checks use; each change of it is written
in the transaction that inserts its event, so the two never disagree. Revoking keeps the
row (``revoked_at``), so ``ledger user list`` still shows who had access.

Nothing here depends on the web framework, so ``ledger user`` manages users without it.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import re
import secrets
import sqlite3
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from os import urandom
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError
from sqlalchemy import (
    Engine,
    bindparam,
    inspect,
    select,
)

from ledger.clock import Clock
from ledger.commands.application import LedgerApplication
from ledger.commands.registry import authorise
from ledger.domain.access import (
    NAME_MAX as _NAME_MAX,
)
from ledger.domain.access import (
    Access,
    AccessEvent,
    AccessGranted,
    access_id,
    decide_grant,
    decide_reissue,
    decide_revoke,
    project_access,
)
from ledger.domain.errors import RuleViolation
from ledger.domain.model import Stamp
from ledger.domain.ticket import SUPERVISORS
from ledger.domain.values import Role
from ledger.storage.api_users import KEY_HEX as _KEY_HEX
from ledger.storage.api_users import UserRowMissing, UserRowWrite, api_users
from ledger.storage.recorders import USER_ROWS
from ledger.storage.tables import LedgerNotInitialised
from ledger.timeutil import as_utc

API_ROLES: tuple[Role, ...] = (Role.AUDITOR, *SUPERVISORS)
"""The roles that read everything: the whole feed, the reports, every ticket (over the API
and on the dashboard)."""
USER_ROLES: tuple[Role, ...] = tuple(Role)
"""The roles a user may have: every operator kind. Each writes over the API what the role
matrix lets its role write (an auditor nothing); what each reads is in docs/api.md (an
engineer: the tickets dispatched to an engineer of the user's name, as on the
dashboard)."""

INIT_ACTOR = "ledger init"
"""The actor of the access events recorded for users added before they were logged."""
TOKEN_PREFIX = "ldg_"
_TOKEN = re.compile(
    rf"^{TOKEN_PREFIX}(?P<key>[0-9a-f]{{{_KEY_HEX}}})_(?P<secret>[A-Za-z0-9_-]{{43}})$"
)


E = TypeVar("E", bound=AccessEvent)

_BY_TOKEN_KEY = select(api_users).where(api_users.c.token_key == bindparam("key"))
"""The user row of a token's key: built once, as every API request runs it."""
_CHECKED_TOKENS = 1024
"""Tokens whose check :meth:`Users.authenticate` keeps (all are forgotten past this)."""


def _is_integrity_error(error: BaseException) -> bool:
    """A uniqueness conflict, as the library raises it or as a driver does (PostgreSQL's
    pre-insert step runs the row's write outside the library's translation)."""
    if isinstance(error, IntegrityError | sqlite3.IntegrityError):
        return True
    psycopg = sys.modules.get("psycopg")  # loaded when the ledger is on PostgreSQL
    return psycopg is not None and isinstance(error, psycopg.IntegrityError)


class UserError(ValueError):
    """A user command that cannot be done: bad name or role, unknown or duplicate user."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created_at: datetime
    token_issued_at: datetime
    revoked_at: datetime | None
    token_key: str
    """The public lookup part of the user's current token (changes when it is re-issued)."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _digest(salt: bytes, secret: str) -> bytes:
    return hmac.new(salt, secret.encode(), hashlib.sha256).digest()


def _new_token() -> tuple[str, dict[str, Any]]:
    """A fresh token and the columns that store it (no secret among them)."""
    key, secret, salt = secrets.token_hex(_KEY_HEX // 2), secrets.token_urlsafe(32), urandom(16)
    columns = {"token_key": key, "token_salt": salt, "token_digest": _digest(salt, secret)}
    return f"{TOKEN_PREFIX}{key}_{secret}", columns


def _user(row: Any) -> User:
    return User(
        name=row.name,
        role=Role(row.role),
        created_at=as_utc(row.created_at),
        token_issued_at=as_utc(row.token_issued_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
        token_key=row.token_key,
    )


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > _NAME_MAX or any(not c.isprintable() for c in name):
        raise UserError(f"a user name is 1 to {_NAME_MAX} printable characters, got {name!r}")
    return name


def _checked_role(role: Role | str) -> Role:
    try:
        checked = Role(role)
    except ValueError:
        checked = None
    if checked not in USER_ROLES:
        allowed = ", ".join(r.value for r in USER_ROLES)
        raise UserError(f"role {role} cannot be a user (allowed: {allowed})")
    assert checked is not None
    return checked


class Users:
    """The ``api_users`` table through ``engine``, its changes recorded as events through
    ``app`` (:mod:`ledger.domain.access`); times from ``clock``."""

    def __init__(self, engine: Engine, clock: Clock, app: LedgerApplication) -> None:
        self.engine = engine
        self.clock = clock
        self.app = app
        p = "?" if engine.dialect.name == "sqlite" else "%s"
        self._token_sql = (
            "SELECT name, role, token_salt, token_digest, created_at, token_issued_at, "
            f"revoked_at FROM {api_users.name} WHERE token_key = {p}"
        )
        self._checked: dict[str, tuple[tuple[Any, ...], str, User]] = {}
        """Token key → (its row as last read, the secret checked against it, the user)."""

    def require_table(self) -> None:
        """Refuse a ledger initialised before API users existed, with what to do."""
        if not inspect(self.engine).has_table(api_users.name):
            raise LedgerNotInitialised(
                "this ledger has no API user table: run `ledger init` again to add it"
            )

    def add(
        self, name: str, role: Role | str, *, actor: str, actor_role: Role | str
    ) -> tuple[User, str]:
        """A new user and its token (shown once: only its digest is kept); ``actor`` (in
        ``actor_role``: the role matrix's ``user_grant``) grants it."""
        name, checked_role = _checked_name(name), _checked_role(role)
        stamp = self._stamp("user_grant", actor, actor_role)
        event = self._decide(lambda: decide_grant(self._access(name), name, checked_role, stamp))
        token, columns = _new_token()
        now = stamp.recorded_at
        row = {"role": checked_role.value, "created_at": now, "token_issued_at": now, **columns}
        self._save(event, UserRowWrite("insert", name, row))
        return self.get(name), token

    def get(self, name: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_users).where(api_users.c.name == name.strip())).first()
        if row is None:
            raise UserError(f"no user {name}")
        return _user(row)

    def list(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_users).order_by(api_users.c.name))
            return [_user(row) for row in rows]

    def reissue(self, name: str, *, actor: str, actor_role: Role | str) -> tuple[User, str]:
        """A new token for an active user; the old one stops working at once."""
        stamp = self._stamp("user_reissue", actor, actor_role)
        access = self._existing(name)
        event = self._decide(lambda: decide_reissue(access, stamp))
        token, columns = _new_token()
        self._save(
            event,
            UserRowWrite("update", access.name, {"token_issued_at": stamp.recorded_at, **columns}),
        )
        return self.get(access.name), token

    def revoke(self, name: str, *, actor: str, actor_role: Role | str) -> User:
        """End the user's access (its token stops working at once); the row stays."""
        stamp = self._stamp("user_revoke", actor, actor_role)
        access = self._existing(name)
        event = self._decide(lambda: decide_revoke(access, stamp))
        self._save(event, UserRowWrite("update", access.name, {"revoked_at": stamp.recorded_at}))
        return self.get(access.name)

    def history(self, name: str) -> Sequence[AccessEvent]:
        """The user's access events, in order: who granted, re-issued and revoked it, when."""
        access = self._existing(name)
        events = self.app.repository.event_store.get(access.id)
        return [e for e in events if isinstance(e, AccessEvent)]

    def record_untracked(self) -> builtins.list[str]:
        """Record the access of the users added before access was recorded in the log
        (rows without events): granted when the row says it was created, re-issued when its
        token was, revoked when it was; by ``ledger init`` (role admin), which calls this.
        The names recorded."""
        recorded: builtins.list[str] = []
        for user in self.list():
            if self._access(user.name) is not None:
                continue
            now = self.clock.now()

            def stamp(at: datetime, now: datetime = now) -> Stamp:
                return Stamp(actor=INIT_ACTOR, role=Role.ADMIN, occurred_at=at, recorded_at=now)

            granted = decide_grant(None, user.name, user.role, stamp(user.created_at))
            access = project_access(None, [granted])
            assert access is not None
            events: builtins.list[AccessEvent] = [granted]
            if user.token_issued_at > user.created_at:
                events.append(decide_reissue(access, stamp(user.token_issued_at)))
                access = project_access(access, events[-1:])
                assert access is not None
            if user.revoked_at is not None:
                events.append(decide_revoke(access, stamp(user.revoked_at)))
            try:
                self.app.save(*events)
            except IntegrityError:
                continue  # recorded meanwhile by another `ledger init`
            recorded.append(user.name)
        return recorded

    def _stamp(self, command: str, actor: str, actor_role: Role | str) -> Stamp:
        try:
            role = Role(actor_role)
        except ValueError:
            raise UserError(f"{actor_role} is not a role") from None
        authorise(command, role, actor=actor)
        now = self.clock.now()
        try:
            return Stamp(actor=actor, role=role, occurred_at=now, recorded_at=now)
        except ValidationError:
            raise UserError(f"the actor is 1 to 200 characters, got {actor!r}") from None

    @staticmethod
    def _decide(decide: Callable[[], E]) -> E:
        try:
            return decide()
        except RuleViolation as e:
            raise UserError(str(e)) from None

    def _access(self, name: str) -> Access | None:
        try:
            access: Access = self.app.repository.get(access_id(name), projector_func=project_access)
        except AggregateNotFoundError:
            return None
        return access

    def _existing(self, name: str) -> Access:
        user = self.get(name)  # "no user NAME" for a name the table does not have
        access = self._access(user.name)
        if access is None:
            raise UserError(
                f"user {user.name} was added before access was recorded in the log: "
                "run `ledger init` once to record it"
            )
        return access

    def _save(self, event: AccessEvent, row: UserRowWrite) -> None:
        """The event and its row in one transaction (:mod:`ledger.storage.recorders`)."""
        try:
            self.app.save(event, **{USER_ROWS: [row]})
        except UserRowMissing:
            raise UserError(f"user {row.name} is revoked") from None
        except Exception as e:
            if not _is_integrity_error(e):
                raise
            if isinstance(event, AccessGranted):
                raise UserError(
                    f"user {row.name} already exists (names are kept after revocation)"
                ) from None
            raise UserError(f"user {row.name} changed concurrently, retry") from None

    def authenticate(self, token: str) -> User | None:
        """The active user ``token`` belongs to, or ``None`` (malformed, unknown, revoked
        or replaced token alike).

        Every call reads the token's row, so a revocation, a new token or a new role
        takes effect on the next request, whoever wrote it. What is kept between calls is
        only the work a read row does not change (issue 18: every API request calls
        this): the row as the driver returned it with the secret it was checked against
        and the :class:`User` built from it; the same row and secret give the same user
        without the HMAC, SQLAlchemy's result rows or the times parsed again."""
        match = _TOKEN.match(token.strip())
        if match is None:
            return None
        key, secret = match["key"], match["secret"]
        row = self._token_row(key)
        if row is None:
            return None
        known = self._checked.get(key)
        if known is not None and known[0] == row and hmac.compare_digest(known[1], secret):
            return known[2]
        with self.engine.connect() as conn:
            full = conn.execute(_BY_TOKEN_KEY, {"key": key}).first()
        if full is None or full.revoked_at is not None:
            return None
        if not hmac.compare_digest(_digest(full.token_salt, secret), full.token_digest):
            return None
        user = _user(full)
        if len(self._checked) >= _CHECKED_TOKENS:
            self._checked.clear()
        self._checked[key] = (row, secret, user)
        return user

    def _token_row(self, key: str) -> tuple[Any, ...] | None:
        """The active row of token key ``key`` as the driver's raw tuple (every column
        but the key), or ``None``: one indexed read on a pooled connection's own cursor."""
        dbapi_connection = self.engine.raw_connection()
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(self._token_sql, (key,))
                row = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            dbapi_connection.close()
        return None if row is None or row[-1] is not None else tuple(row)
