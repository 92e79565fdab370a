"""Notification rules: read from a TOML file, validated, recorded as an event (admin only).

A file that fails validation records nothing and yields every problem with its key path
(``rules[0].channels: no channel 'ops'``); loading the same rules twice records nothing the
second time. The event types a rule names are checked against the ledger's CloudEvents
types, so a typo is refused instead of routing nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from ledger.clock import Clock
from ledger.commands.application import ConcurrentChange
from ledger.commands.contracts import read_file
from ledger.commands.models import CommandError, describe_validation_error
from ledger.commands.registry import authorise
from ledger.commands.store import Store
from ledger.domain.model import Stamp
from ledger.domain.notification import (
    ROUTING_ID,
    NotificationRouting,
    RuleSet,
    decide_load_rules,
    project_routing,
)
from ledger.domain.values import Role
from ledger.feed.cloudevents import BadFeedRequest, topics_for


def parse_rules(data: dict[str, Any]) -> RuleSet:
    """A rules file's contents; every problem at once, each with its key path."""
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as e:
        problems = []
        for line in describe_validation_error(e):
            problems.extend(line.split("; ") if line.count(": ") > 1 else [line])
        raise CommandError(problems) from None
    problems = []
    for i, rule in enumerate(rules.rules):
        for j, pattern in enumerate(rule.events):
            try:
                topics_for([pattern])
            except BadFeedRequest as e:
                problems.append(f"rules[{i}].events[{j}]: {e}")
    if problems:
        raise CommandError(problems)
    return rules


def read_rules_file(path: Path) -> RuleSet:
    return read_file(path, parse_rules)


class NotificationRules:
    """Loads the routing and answers which rules are in force."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def load(self, rules: RuleSet, *, actor: str, role: Role) -> NotificationRouting:
        """Record ``rules`` as the routing in force; ``Unchanged`` if they already are."""
        authorise("notify_rules_load", role, actor=actor)
        now = self.clock.now()
        stamp = Stamp(actor=actor, role=role, occurred_at=now, recorded_at=now)
        event = decide_load_rules(self.routing(), rules, stamp)
        try:
            self.store.save(event)
        except IntegrityError as e:
            raise ConcurrentChange("the notification rules changed concurrently, retry") from e
        routing = self.routing()
        assert routing is not None
        return routing

    def routing(self) -> NotificationRouting | None:
        try:
            routing: NotificationRouting = self.store.get(ROUTING_ID, project_routing)
        except AggregateNotFoundError:
            return None
        return routing

    def current(self) -> RuleSet | None:
        routing = self.routing()
        return None if routing is None else routing.rules

    def at_risk_thresholds(self) -> tuple[int, ...]:
        """The percents the sweep warns at: none until rules are loaded (a warning is for
        telling someone), then those the rules name, or the default."""
        rules = self.current()
        return () if rules is None else rules.at_risk_thresholds()
