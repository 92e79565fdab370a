"""The Contract aggregate (服务合同): the service policy a ticket is judged by.

A contract's promises change over its life (a renewed warranty, a tighter target after a
complaint), but a ticket must always be judged by the policy that was in force when it was
reported. So a contract is a list of revisions, each a complete :class:`Policy` with the
instant it takes effect: ``ContractRegistered`` brings the first (in force for every
ticket up to the next revision) and each ``PolicyRevised`` one more. A revision can only
take effect at or after the moment it is recorded, never in the past, so no verdict the
ledger has already given can change when a policy is revised.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from functools import singledispatch
from typing import Annotated, Literal, overload
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from ledger.domain.errors import RuleViolation, Unchanged
from ledger.domain.metrics import BUILTIN_METRICS, MetricDef, MetricName
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    Immutable,
    ShortText,
    Stamp,
    Text,
    UtcDatetime,
    evolve,
    fold,
    recorded_events,
)
from ledger.domain.numbering import NAMESPACE
from ledger.domain.sla import Target, parse_target
from ledger.domain.values import EscalationLevel, Severity, VisitPurpose
from ledger.domain.visit_schedule import periodic_kind, visit_interval

CONTRACT_ID_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")


def _target_text(text: str) -> str:
    """A target as written in a contract, checked and put in its canonical spelling."""
    try:
        return str(parse_target(text))
    except ValueError as e:
        raise PydanticCustomError("target", str(e)) from None


def _visit_interval(text: str) -> str:
    """A visit interval (``"7 days"``), checked and put in its canonical spelling."""
    try:
        visit_interval(text)
    except ValueError as e:
        raise PydanticCustomError("visit_interval", str(e)) from None
    return _target_text(text)


def _periodic_kind(kind: VisitPurpose) -> VisitPurpose:
    try:
        return periodic_kind(kind)
    except ValueError as e:
        raise PydanticCustomError("visit_kind", str(e)) from None


def _zone_name(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long
        raise PydanticCustomError(
            "time_zone", f'"{name}" is not a time zone (e.g. "Asia/Shanghai")'
        ) from None
    return name


def _contract_id(value: str) -> str:
    if not CONTRACT_ID_PATTERN.match(value):
        raise PydanticCustomError(
            "contract_id",
            f'"{value}" is not a contract id: letters, digits, ".", "_" and "-", '
            "starting with a letter or digit, at most 100 characters",
        )
    return value


TargetText = Annotated[str, AfterValidator(_target_text)]
"""``"5m"``, ``"4h"``, ``"3 days"``, ``"same-day"``, ``"2 workdays"`` (``ledger.domain.sla``)."""

ContractId = Annotated[str, AfterValidator(_contract_id)]
ZoneName = Annotated[str, AfterValidator(_zone_name)]

METRICS = tuple(BUILTIN_METRICS)
"""The built-in clocks every contract knows, in the order a ticket meets them; a contract
may declare more (``Policy.metrics``)."""


class Warranty(Immutable):
    """The free-service period: from the acceptance signature date, for ``years`` or to
    ``end`` (inclusive)."""

    start: date
    years: int | None = Field(default=None, ge=1, le=20)
    end: date | None = None

    @model_validator(mode="after")
    def _one_length(self) -> Warranty:
        if (self.years is None) == (self.end is None):
            raise PydanticCustomError("warranty", "give either years or end, not both or neither")
        if self.end is not None and self.end < self.start:
            raise PydanticCustomError("warranty", f"end {self.end} is before start {self.start}")
        return self

    @property
    def last_day(self) -> date:
        """The last covered day: ``end``, or the day before the ``years``-th anniversary."""
        if self.end is not None:
            return self.end
        assert self.years is not None
        anniversary_year = self.start.year + self.years
        try:
            anniversary = self.start.replace(year=anniversary_year)
        except ValueError:  # 29 February
            anniversary = date(anniversary_year, 3, 1)
        return date.fromordinal(anniversary.toordinal() - 1)

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.last_day


class BusinessHours(Immutable):
    """One block of local time per working day (no overnight shifts, no lunch break)."""

    open: time
    close: time
    days: Literal["cn-workdays"] = "cn-workdays"

    @model_validator(mode="after")
    def _open_before_close(self) -> BusinessHours:
        if not self.open < self.close:
            raise PydanticCustomError(
                "business_hours",
                f"open {self.open:%H:%M} must be before close {self.close:%H:%M}",
            )
        return self


class Targets(Immutable):
    """The promises for one severity; a missing metric is not promised. Besides the four
    built-in metrics, a key may name a metric the contract declares (``[metrics.<name>]``)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[MetricName, TargetText] = Field(init=False)

    respond: TargetText | None = None
    arrive: TargetText | None = None
    resolve: TargetText | None = None
    replacement: TargetText | None = Field(
        default=None, description="a replacement unit is due if not resolved by then"
    )

    def given(self) -> dict[str, str]:
        """Every metric given a target here, built-in ones first."""
        own = {m: t for m in METRICS if (t := getattr(self, m)) is not None}
        return {**own, **(self.__pydantic_extra__ or {})}

    def merged_over(self, base: Targets) -> Targets:
        """These targets, falling back to ``base`` for the metrics not given here."""
        return Targets(**{**base.given(), **self.given()})

    def items(self) -> list[tuple[str, Target]]:
        """The promised metrics with their parsed targets: the built-in ones in
        :data:`METRICS` order, then the declared ones as written."""
        return [(m, parse_target(t)) for m, t in self.given().items()]


class TargetTable(Immutable):
    """Per-severity targets; ``default`` applies to every severity that does not say."""

    default: Targets = Targets()
    emergency: Targets = Targets()
    critical: Targets = Targets()
    major: Targets = Targets()
    general: Targets = Targets()

    def for_severity(self, severity: Severity) -> Targets:
        own: Targets = getattr(self, Severity(severity).value)
        return own.merged_over(self.default)


class Notices(Immutable):
    """Seed 003: a ticket still open this long after its report gets a notice."""

    inspection: TargetText | None = None  # 检查单
    rectification: TargetText | None = None  # 整改通知单


class WorkdayOverrides(Immutable):
    """A contract's own days off and working days on top of China's official table."""

    extra_holidays: tuple[date, ...] = ()
    extra_workdays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _disjoint(self) -> WorkdayOverrides:
        both = sorted(set(self.extra_holidays) & set(self.extra_workdays))
        if both:
            raise PydanticCustomError(
                "workdays", f"{both[0]} is listed both as an extra holiday and an extra workday"
            )
        return self


class AuditRules(Immutable):
    """What an auditor holds the contract's records to (``ledger report audit``)."""

    backdating_minutes: int = Field(default=30, ge=1, strict=True)
    """An event that occurred more than this many minutes before it was recorded is
    back-dated (``ledger.domain.audit``)."""


Escalation = dict[EscalationLevel, TargetText]
"""Automatic ladder: level → how long the response may be overdue before it climbs there."""

VisitSchedule = dict[
    Annotated[VisitPurpose, AfterValidator(_periodic_kind)],
    Annotated[str, AfterValidator(_visit_interval)],
]
"""Periodic return visits: kind → interval in days (``ledger.domain.visit_schedule``)."""


class Policy(Immutable):
    """One complete revision of a contract's promises, as loaded from its TOML file."""

    name: ShortText
    customer: ShortText
    warranty: Warranty
    timezone: ZoneName = "Asia/Shanghai"
    calendar: Literal["24x7", "business"]
    business_hours: BusinessHours | None = None
    workdays: WorkdayOverrides = WorkdayOverrides()
    pausing: bool = Field(
        default=True, description="whether Suspended → Resumed intervals stop the clocks"
    )
    metrics: dict[MetricName, MetricDef] = Field(default_factory=dict)
    """Declared clocks (``[metrics.<name>]``); a built-in name redefines that metric."""
    targets: TargetTable
    escalation: Escalation = Field(default_factory=dict)
    notices: Notices = Notices()
    visits: VisitSchedule = Field(default_factory=dict)
    audit: AuditRules = AuditRules()

    @model_validator(mode="after")
    def _coherent(self) -> Policy:
        if self.calendar == "business" and self.business_hours is None:
            raise PydanticCustomError(
                "business_hours", 'calendar = "business" needs business_hours = { open, close }'
            )
        if self.calendar == "24x7" and self.business_hours is not None:
            raise PydanticCustomError(
                "business_hours",
                'business_hours is only used with calendar = "business" (this contract is 24x7)',
            )
        for name, metric in self.metrics.items():
            if metric.start_after is not None:
                try:
                    parse_target(metric.start_after)
                except ValueError as e:
                    raise PydanticCustomError(
                        "metric", f"metrics.{name}.start_after: {e}"
                    ) from None
        for severity in ("default", *(s.value for s in Severity)):
            for name in getattr(self.targets, severity).given():
                if name not in self.metric_definitions:
                    raise PydanticCustomError(
                        "metric",
                        f'targets.{severity}.{name}: no metric "{name}" is built in or '
                        f"declared (declare it in [metrics.{name}] with its start and stop)",
                    )
        if not any(self.targets.for_severity(s).items() for s in Severity):
            raise PydanticCustomError("targets", "the contract promises no target at all")
        if EscalationLevel.ENGINEER in self.escalation:
            raise PydanticCustomError(
                "escalation", "the ladder starts with the engineer: list the levels above it"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def metric_definitions(self) -> dict[str, MetricDef]:
        """Every clock of this policy: the built-in ones (as redefined here), then the
        declared ones, in that order."""
        return {**BUILTIN_METRICS, **self.metrics}


# --------------------------------------------------------------------------- events


class ContractEvent(DomainEvent):
    """Base of every Contract event."""

    abstract = True


class ContractRegistered(ContractEvent):
    contract_id: ContractId
    policy: Policy


class PolicyRevised(ContractEvent):
    policy: Policy
    effective_from: UtcDatetime
    note: Text | None = None


CONTRACT_EVENT_TYPES: tuple[type[ContractEvent], ...] = recorded_events(ContractEvent)
"""Every recorded event of ContractEvent: the classes register themselves."""


# --------------------------------------------------------------------------- state


class Revision(Immutable):
    """A policy and when it took effect; the first revision has no start (always in force
    before the second)."""

    number: int
    policy: Policy
    effective_from: datetime | None
    recorded_at: datetime
    note: str | None = None


class Contract(Aggregate):
    contract_id: str
    revisions: tuple[Revision, ...]

    @property
    def latest(self) -> Revision:
        return self.revisions[-1]

    def revision_at(self, when: datetime) -> Revision:
        """The revision in force at ``when`` (a ticket's report time)."""
        chosen = self.revisions[0]
        for revision in self.revisions[1:]:
            assert revision.effective_from is not None
            if revision.effective_from <= when:
                chosen = revision
        return chosen

    def policy_at(self, when: datetime) -> Policy:
        return self.revision_at(when).policy


@overload
def policy_for_ticket(contract: Contract, reported_at: datetime) -> Policy: ...
@overload
def policy_for_ticket(contract: Contract | None, reported_at: datetime) -> Policy | None: ...
def policy_for_ticket(contract: Contract | None, reported_at: datetime) -> Policy | None:
    """The policy a ticket is judged by: its contract's revision in force when the ticket was
    reported (a later revision never rejudges it); ``None`` when the contract is unknown."""
    return None if contract is None else contract.policy_at(reported_at)


def contract_uuid(contract_id: str) -> UUID:
    """The aggregate id of a contract, derived from its human id (no lookup table)."""
    return uuid5(NAMESPACE, f"contract:{contract_id}")


# --------------------------------------------------------------------------- rules


def decide_register(contract_id: str, policy: Policy, stamp: Stamp) -> ContractRegistered:
    return ContractRegistered(
        **stamp.envelope(contract_uuid(contract_id), 1), contract_id=contract_id, policy=policy
    )


def decide_revise(
    contract: Contract,
    policy: Policy,
    stamp: Stamp,
    effective_from: datetime | None = None,
    note: str | None = None,
) -> PolicyRevised:
    """A new revision, in force from ``effective_from`` (default: the recording time)."""
    effective_from = stamp.recorded_at if effective_from is None else effective_from
    if policy == contract.latest.policy:
        raise Unchanged(
            f"contract {contract.contract_id} already has this policy "
            f"(revision {contract.latest.number}): nothing recorded"
        )
    if effective_from < stamp.recorded_at:
        raise RuleViolation(
            f"a revision of contract {contract.contract_id} cannot take effect in the past (",
            effective_from,
            "): tickets already judged must keep their verdicts",
        )
    last_start = contract.latest.effective_from
    if last_start is not None and effective_from <= last_start:
        raise RuleViolation(
            f"revision {contract.latest.number} of contract {contract.contract_id} "
            "takes effect at ",
            last_start,
            ": a new revision must take effect after it",
        )
    return PolicyRevised(
        **stamp.envelope(contract.id, contract.version + 1),
        policy=policy,
        effective_from=effective_from,
        note=note,
    )


# --------------------------------------------------------------------------- state changes


@singledispatch
def mutate(event: ContractEvent, contract: Contract | None) -> Contract:
    raise NotImplementedError(type(event).__name__)  # pragma: no cover


@mutate.register
def _(event: ContractRegistered, _: Contract | None) -> Contract:
    return Contract.started_by(
        event,
        revisions=(
            Revision(
                number=1, policy=event.policy, effective_from=None, recorded_at=event.timestamp
            ),
        ),
    )


@mutate.register
def _(event: PolicyRevised, contract: Contract | None) -> Contract:
    assert contract is not None
    revision = Revision(
        number=len(contract.revisions) + 1,
        policy=event.policy,
        effective_from=event.effective_from,
        recorded_at=event.timestamp,
        note=event.note,
    )
    return evolve(contract, event, revisions=(*contract.revisions, revision))


def project_contract(contract: Contract | None, events: object) -> Contract | None:
    """Projector function for the library's ``Repository.get(projector_func=...)``."""
    return fold(mutate, contract, events, ContractEvent)
