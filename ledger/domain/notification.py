"""Notification routing (通知规则): who is told what, through which channel. Loaded from a
TOML file like a contract and recorded as an event (``NotificationRulesLoaded``), so the
log says who changed the routing and when; a corrected file is a new event, never an edit.

Secrets (a robot's signing key, a webhook's key, an SMTP password) never enter the log:
the rules name the environment variables that hold them (``secret_env``, ``url_env``).
"""

from __future__ import annotations

from enum import StrEnum
from functools import singledispatch
from typing import Annotated, Any
from uuid import UUID, uuid5

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from ledger.domain.errors import Unchanged
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    evolve,
    fold,
    recorded_events,
)
from ledger.domain.numbering import NAMESPACE
from ledger.domain.values import EscalationLevel, Severity

ROUTING_ID: UUID = uuid5(NAMESPACE, "notification-rules")
"""The one aggregate that holds every loaded rule set (the latest is in force)."""

DEFAULT_AT_RISK = 80
"""Percent of a target's covered time used at which a ticket is warned, unless a rule says."""

LADDER = "ladder"
"""In a rule's ``notify``: the people the escalation ladder names for the level reached."""

EnvName = Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$", max_length=100)]
Name = Annotated[str, Field(min_length=1, max_length=100)]


class ChannelKind(StrEnum):
    WECOM = "wecom"  # 企业微信群机器人
    DINGTALK = "dingtalk"  # 钉钉自定义机器人
    FEISHU = "feishu"  # 飞书 / Lark 自定义机器人
    EMAIL = "email"
    WEBHOOK = "webhook"  # Standard Webhooks, CloudEvents body


ROBOTS = (ChannelKind.WECOM, ChannelKind.DINGTALK, ChannelKind.FEISHU)
"""Group robots: one message per group, people are @-mentioned by mobile number."""


class ChannelSpec(Immutable):
    kind: ChannelKind
    url: Annotated[str, Field(pattern=r"^https?://", max_length=2000)] | None = None
    url_env: EnvName | None = None
    """The variable holding the URL, when the URL itself is a secret (a robot's key)."""
    secret_env: EnvName | None = None
    """The variable holding the signing key (DingTalk ``SEC...``, Feishu, ``whsec_...``)."""

    @model_validator(mode="after")
    def _addressed(self) -> ChannelSpec:
        if self.kind is ChannelKind.EMAIL:
            if self.url or self.url_env:
                raise PydanticCustomError("channel", "an email channel has no url")
        elif (self.url is None) == (self.url_env is None):
            raise PydanticCustomError("channel", "give exactly one of url and url_env")
        if self.kind is ChannelKind.WEBHOOK and self.secret_env is None:
            raise PydanticCustomError(
                "channel", "a webhook is signed (Standard Webhooks): secret_env is required"
            )
        return self


class Person(Immutable):
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=200)] | None = None
    mobile: Annotated[str, Field(pattern=r"^\+?[0-9]{5,20}$")] | None = None
    """For the robots' @-mention."""


class Group(Immutable):
    members: tuple[Name, ...] = Field(min_length=1)


class Rule(Immutable):
    name: ShortText
    events: tuple[Annotated[str, Field(min_length=1, max_length=200)], ...] = Field(
        min_length=1, description="CloudEvents type patterns, e.g. ledger.ticket.escalated.*"
    )
    contracts: tuple[ShortText, ...] = ()
    severities: tuple[Severity, ...] = ()
    levels: tuple[EscalationLevel, ...] = ()
    """Only escalations to these levels (empty: any)."""
    at_risk: int | None = Field(default=None, ge=1, le=99)
    """Only at-risk warnings at this percent (and the sweep warns at it)."""
    channels: tuple[Name, ...] = Field(min_length=1)
    notify: tuple[Name, ...] = ()
    """People, groups, or ``ladder``."""


class Smtp(Immutable):
    host: ShortText
    port: int = Field(default=25, ge=1, le=65535)
    sender: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$", max_length=200)]
    username_env: EnvName | None = None
    password_env: EnvName | None = None
    starttls: bool = False


class Outbound(Immutable):
    allow: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = ()
    """Private, loopback or link-local addresses (or networks) that may still be called."""


class RuleSet(Immutable):
    base_url: Annotated[str, Field(pattern=r"^https?://", max_length=500)] | None = None
    """Where the dashboard is served: messages link to ``{base_url}/dashboard/tickets/N``."""
    channels: dict[Name, ChannelSpec] = Field(default_factory=dict)
    people: dict[Name, Person] = Field(default_factory=dict)
    groups: dict[Name, Group] = Field(default_factory=dict)
    ladder: dict[EscalationLevel, tuple[Name, ...]] = Field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    smtp: Smtp | None = None
    outbound: Outbound = Outbound()

    @model_validator(mode="after")
    def _names_known(self) -> RuleSet:
        problems = [*self._ladder_problems(), *self._rule_problems()]
        clash = sorted(set(self.people) & set(self.groups))
        if clash:
            problems.append(f"groups.{clash[0]}: is also the name of a person")
        if problems:
            raise PydanticCustomError("rules", "; ".join(problems))
        return self

    def _ladder_problems(self) -> list[str]:
        return [
            f"ladder.{level.value}: no person or group {name!r}"
            for level, names in self.ladder.items()
            for name in names
            if name not in self.people and name not in self.groups
        ] + [
            f"groups.{group}.members: no person {member!r}"
            for group, spec in self.groups.items()
            for member in spec.members
            if member not in self.people
        ]

    def _rule_problems(self) -> list[str]:
        problems = []
        for i, rule in enumerate(self.rules):
            for name in rule.channels:
                spec = self.channels.get(name)
                if spec is None:
                    problems.append(f"rules[{i}].channels: no channel {name!r}")
                elif spec.kind is ChannelKind.EMAIL and self.smtp is None:
                    problems.append(
                        f"rules[{i}].channels: {name!r} is email, and [smtp] is missing"
                    )
            for name in rule.notify:
                if name != LADDER and name not in self.people and name not in self.groups:
                    problems.append(f"rules[{i}].notify: no person or group {name!r}")
        return problems

    def people_named(self, names: tuple[str, ...], level: EscalationLevel | None) -> list[str]:
        """The people ``names`` mean (groups expanded, ``ladder`` as the level's), once each,
        in order."""
        found: list[str] = []
        for name in names:
            if name == LADDER:
                names_of_level = self.ladder.get(level, ()) if level is not None else ()
                expanded = [p for n in names_of_level for p in self._expand(n)]
            else:
                expanded = self._expand(name)
            found.extend(p for p in expanded if p not in found)
        return found

    def _expand(self, name: str) -> list[str]:
        group = self.groups.get(name)
        return list(group.members) if group is not None else [name]

    def at_risk_thresholds(self) -> tuple[int, ...]:
        """The percents the sweep warns at: those the rules name, else the default."""
        named = sorted({r.at_risk for r in self.rules if r.at_risk is not None})
        return tuple(named) or (DEFAULT_AT_RISK,)


class NotificationRulesLoaded(DomainEvent):
    rules: RuleSet


NOTIFICATION_EVENT_TYPES: tuple[type[DomainEvent], ...] = recorded_events(NotificationRulesLoaded)


class NotificationRouting(Aggregate):
    rules: RuleSet


def decide_load_rules(
    routing: NotificationRouting | None, rules: RuleSet, stamp: Stamp
) -> NotificationRulesLoaded:
    if routing is not None and routing.rules == rules:
        raise Unchanged("these notification rules are already in force: nothing recorded")
    version = 1 if routing is None else routing.version + 1
    return NotificationRulesLoaded(**stamp.envelope(ROUTING_ID, version), rules=rules)


@singledispatch
def mutate(event: DomainEvent, routing: NotificationRouting | None) -> NotificationRouting:
    raise NotImplementedError(type(event).__name__)  # pragma: no cover


@mutate.register
def _(event: NotificationRulesLoaded, routing: NotificationRouting | None) -> NotificationRouting:
    if routing is None:
        return NotificationRouting.started_by(event)
    return evolve(routing, event, rules=event.rules)


def project_routing(routing: NotificationRouting | None, events: Any) -> NotificationRouting | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, routing, events, NotificationRulesLoaded)
