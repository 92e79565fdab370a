"""Access (API and dashboard users): who was given access to read the ledger, by whom, when.

A user of ``ledger serve`` is an aggregate of its own, named by the user's name: access is
granted once (``AccessGranted``, with the user's role), the token may be re-issued
(``TokenReissued``: the old one stops working) and access revoked (``AccessRevoked``, for
good: a name is never reused). The events are facts in the log like any other, so the
hash chain, ``ledger verify`` and the feed cover them; an auditor reads who had access.

They never carry the token, nor its salt or digest: the log is published whole through
the feed and kept for ever. The credential stays in the ``api_users`` table
(:mod:`ledger.storage.api_users`), written in the same transaction as the event
(:mod:`ledger.commands.users`), so the table and the log cannot disagree.
"""

from __future__ import annotations

from functools import singledispatch
from typing import Annotated
from uuid import UUID, uuid5

from pydantic import Field

from ledger.domain.errors import RuleViolation
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Stamp,
    evolve,
    fold,
    next_event,
    recorded_events,
)
from ledger.domain.numbering import NAMESPACE
from ledger.domain.values import Role

NAME_MAX = 100
UserName = Annotated[str, Field(min_length=1, max_length=NAME_MAX)]


def access_id(name: str) -> UUID:
    """The aggregate id of the user ``name`` (names are unique and never reused)."""
    return uuid5(NAMESPACE, "user:" + name)


class AccessEvent(DomainEvent):
    """An event of a user's access. ``name`` is the user's name in every event, so each
    reads alone in the feed."""

    abstract = True

    name: UserName


class AccessGranted(AccessEvent):
    """A user was created with a role and its first token (the token is not recorded)."""

    user_role: Role


class TokenReissued(AccessEvent):
    """The user's token was replaced by a new one; the old one stopped working."""


class AccessRevoked(AccessEvent):
    """The user's access ended; the token stopped working. The name stays taken."""


ACCESS_EVENT_TYPES: tuple[type[AccessEvent], ...] = recorded_events(AccessEvent)
"""Every recorded event of AccessEvent: the classes register themselves."""


class Access(Aggregate):
    name: str
    user_role: Role
    tokens: int = 1
    """How many tokens were issued (the first with the grant)."""
    revoked: bool = False


def decide_grant(
    existing: Access | None, name: str, user_role: Role, stamp: Stamp
) -> AccessGranted:
    if existing is not None:
        raise RuleViolation(f"user {name} already exists (names are kept after revocation)")
    return AccessGranted(**stamp.envelope(access_id(name), 1), name=name, user_role=user_role)


def _require_active(access: Access) -> None:
    if access.revoked:
        raise RuleViolation(f"user {access.name} is revoked")


def decide_reissue(access: Access, stamp: Stamp) -> TokenReissued:
    _require_active(access)
    return next_event(TokenReissued, access, stamp, name=access.name)


def decide_revoke(access: Access, stamp: Stamp) -> AccessRevoked:
    _require_active(access)
    return next_event(AccessRevoked, access, stamp, name=access.name)


@singledispatch
def mutate(event: DomainEvent, access: Access | None) -> Access:
    raise NotImplementedError(type(event).__name__)  # pragma: no cover


@mutate.register
def _(event: AccessGranted, access: Access | None) -> Access:
    return Access.started_by(event)


@mutate.register
def _(event: TokenReissued, access: Access | None) -> Access:
    assert access is not None
    return evolve(access, event, tokens=access.tokens + 1)


@mutate.register
def _(event: AccessRevoked, access: Access | None) -> Access:
    return evolve(access, event, revoked=True)


def project_access(access: Access | None, events: object) -> Access | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, access, events, AccessEvent)
