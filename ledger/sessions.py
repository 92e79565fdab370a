"""Browser sessions and CSRF tokens: signed cookies, nothing stored server-side. Shared by
the dashboard's and the workbench's pages (their logins) and the API (which takes a session
cookie as a credential only with a matching ``X-CSRF-Token`` header: page JavaScript).

A user logs in with their name and the token ``ledger user add`` gave them (the API's
credential; there is no second password to leak). The session cookie then carries the
user's name, their token's public lookup key and an expiry, signed with HMAC-SHA256 under a
key the server holds; it never carries the token's secret. Every request re-reads the user,
so a revoked user or a re-issued token ends every session at once (the key no longer
matches).

CSRF: every form carries a token derived (HMAC) from a random per-browser cookie; a POST
whose field does not match its cookie is refused. Cookies are HttpOnly and SameSite=Strict
(Lax for the language choice), and ``Secure`` when the server is reached over HTTPS.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from ledger.commands.users import User, UserError, Users
from ledger.timeutil import as_utc, parse_iso

SESSION_COOKIE = "ledger_session"
CSRF_COOKIE = "ledger_csrf"
LANG_COOKIE = "ledger_lang"
CSRF_HEADER = "X-CSRF-Token"
"""The header page JavaScript sends the page's CSRF token in (its forms send a field)."""
SESSION_LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Session:
    name: str
    token_key: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Signs and checks session cookies and CSRF tokens with one secret key."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or secrets.token_bytes(32)

    def _mac(self, purpose: str, payload: bytes) -> bytes:
        return hmac.new(self.key, purpose.encode() + b"\0" + payload, hashlib.sha256).digest()

    # ---------------------------------------------------------------- sessions

    def session_cookie(self, name: str, token_key: str, now: datetime) -> str:
        payload = orjson.dumps(
            {"n": name, "k": token_key, "e": as_utc(now + SESSION_LIFETIME).isoformat()}
        )
        return f"{_b64(payload)}.{_b64(self._mac('session', payload))}"

    def session(self, cookie: str | None, now: datetime) -> Session | None:
        """The session a cookie holds, or ``None`` (absent, forged, malformed, expired)."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        try:
            payload, presented = _unb64(body), _unb64(mac)
        except ValueError:
            return None
        if not hmac.compare_digest(presented, self._mac("session", payload)):
            return None
        try:
            data = orjson.loads(payload)
            session = Session(str(data["n"]), str(data["k"]), parse_iso(data["e"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None
        return session if now < session.expires_at else None

    # ---------------------------------------------------------------- CSRF

    @staticmethod
    def new_csrf_cookie() -> str:
        return secrets.token_urlsafe(32)

    def csrf_token(self, cookie: str) -> str:
        """The form field that goes with a browser's CSRF cookie."""
        return _b64(self._mac("csrf", cookie.encode()))

    def csrf_ok(self, cookie: str | None, field: str | None) -> bool:
        if not cookie or not field:
            return False
        return hmac.compare_digest(field.encode(), self.csrf_token(cookie).encode())


def session_user(signer: Signer, users: Users, cookie: str | None, now: datetime) -> User | None:
    """The user a session cookie stands for, checked against the users table (a revoked
    user or a re-issued token ends every session at once), or ``None``."""
    session = signer.session(cookie, now)
    if session is None:
        return None
    try:
        user = users.get(session.name)
    except UserError:
        return None
    if not user.active or user.token_key != session.token_key:
        return None
    return user
