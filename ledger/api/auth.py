"""API users and their bearer tokens: who may read the ledger over HTTP.

A user has a name, a :class:`~ledger.domain.values.Role` and one token at a time. The
token is shown once, when it is issued (``ledger user add`` / ``ledger user token``), and
only a salted HMAC-SHA256 of its secret part is stored, so the table leaks nothing usable.
A token reads ``ldg_<key>_<secret>``: ``key`` (16 hex digits) is a public lookup key, so a
check reads one row by key and compares digests in constant time; ``secret`` carries
256 random bits, which is what makes a plain salted hash (rather than a slow password
hash) the right tool.

Users live in a table (``api_users``, :mod:`ledger.storage.api_users`), created by ``ledger
init``, not in the event log: granting and revoking access is administration of this
server, not a fact about service, and the log is published whole through the feed and
hash-chained for ever, which is the wrong home for credentials. Revoking keeps the row
(``revoked_at``), so ``ledger user list`` still shows who had access.

Nothing here depends on the web framework: the API (``ledger.api.app``) and the
dashboard reuse :class:`Users` to turn a presented token into a :class:`User`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from os import urandom
from typing import Any

from sqlalchemy import (
    Engine,
    inspect,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from ledger.bootstrap import LedgerNotInitialised
from ledger.clock import Clock
from ledger.domain.ticket import SUPERVISORS
from ledger.domain.values import Role
from ledger.storage.api_users import KEY_HEX as _KEY_HEX
from ledger.storage.api_users import NAME_MAX as _NAME_MAX
from ledger.storage.api_users import api_users
from ledger.timeutil import as_utc

API_ROLES: tuple[Role, ...] = (Role.AUDITOR, *SUPERVISORS)
"""The roles that may call the API: they read everything."""
USER_ROLES: tuple[Role, ...] = (*API_ROLES, Role.ENGINEER)
"""The roles a user may have: engineers log in to the dashboard, which shows them their
own tickets (the tickets dispatched to an engineer of the user's name); the API refuses
them, since the feed and reports show every ticket."""

TOKEN_PREFIX = "ldg_"
_TOKEN = re.compile(
    rf"^{TOKEN_PREFIX}(?P<key>[0-9a-f]{{{_KEY_HEX}}})_(?P<secret>[A-Za-z0-9_-]{{43}})$"
)


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
    """The ``api_users`` table through ``engine``; times from ``clock``."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def require_table(self) -> None:
        """Refuse a ledger initialised before API users existed, with what to do."""
        if not inspect(self.engine).has_table(api_users.name):
            raise LedgerNotInitialised(
                "this ledger has no API user table: run `ledger init` again to add it"
            )

    def add(self, name: str, role: Role | str) -> tuple[User, str]:
        """A new user and its token (shown once: only its digest is kept)."""
        name, checked_role = _checked_name(name), _checked_role(role)
        token, columns = _new_token()
        now = self.clock.now()
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    api_users.insert().values(
                        name=name,
                        role=checked_role.value,
                        created_at=now,
                        token_issued_at=now,
                        **columns,
                    )
                )
        except IntegrityError:
            raise UserError(
                f"user {name} already exists (names are kept after revocation)"
            ) from None
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

    def reissue(self, name: str) -> tuple[User, str]:
        """A new token for an active user; the old one stops working at once."""
        token, columns = _new_token()
        self._change(name, token_issued_at=self.clock.now(), **columns)
        return self.get(name), token

    def revoke(self, name: str) -> User:
        """End the user's access (its token stops working at once); the row stays."""
        self._change(name, revoked_at=self.clock.now())
        return self.get(name)

    def _change(self, name: str, **values: Any) -> None:
        user = self.get(name)
        if not user.active:
            raise UserError(f"user {user.name} is revoked")
        with self.engine.begin() as conn:
            changed = conn.execute(
                update(api_users)
                .where(api_users.c.name == user.name, api_users.c.revoked_at.is_(None))
                .values(**values)
            )
        if changed.rowcount != 1:
            raise UserError(f"user {user.name} is revoked")

    def authenticate(self, token: str) -> User | None:
        """The active user ``token`` belongs to, or ``None`` (malformed, unknown, revoked
        or replaced token alike)."""
        match = _TOKEN.match(token.strip())
        if match is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(api_users).where(api_users.c.token_key == match["key"])
            ).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(_digest(row.token_salt, match["secret"]), row.token_digest):
            return None
        return _user(row)
