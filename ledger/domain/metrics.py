"""SLA metrics as a contract declares them: which event starts a clock, which stops it.

A metric (``[metrics.<name>]`` in a contract file) is measured from the first moment of
its ``start`` event (default: the report), optionally ``start_after`` that much of the
contract's clock later, to the first moment of its ``stop`` event; suspensions pause it when
the contract allows pausing (``pausing = false`` on the metric turns that off for it). A
``void`` event makes it not apply: when it happens before the stop event (``void_until =
"stop"``), or only when it happens by the due time (``void_until = "due"``: later, it ends
the wait as a breach — "resolved late without a replacement unit"). ``categories`` limits it
to consultations or defects; ``clock = "24x7"`` runs it around the clock on a business-hours
contract. A metric whose start never happened on a closed or cancelled ticket does not
apply. Its targets are given per severity in ``[targets.*]`` like the built-in ones.

The four built-in metrics are definitions of this same kind (:data:`BUILTIN_METRICS`); a
contract may redefine one under its own name (seed 004's replacement starts at repair start).
Event references are a ticket event's name (``"RepairStarted"``) or an event's own time
field (``"ContactChanged.changed_at"``: when the contact changed, not when it was notified).
"""

from __future__ import annotations

import re
import typing
from datetime import datetime
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, model_validator
from pydantic_core import PydanticCustomError

from ledger.domain.model import DomainEvent, Immutable
from ledger.domain.ticket import TICKET_EVENT_TYPES, Ticket, TicketEvent
from ledger.domain.values import Category

METRIC_NAME = re.compile(r"\A[a-z][a-z0-9_]{0,19}\Z")
"""A metric's name: a key in ``[targets.*]``, a column of reports (at most 20 characters)."""

_ENVELOPE = frozenset(DomainEvent.model_fields)


def _is_instant(annotation: object) -> bool:
    """Whether a field's type is a datetime (through ``Annotated`` and ``| None``)."""
    if annotation is AwareDatetime or (
        isinstance(annotation, type) and issubclass(annotation, datetime)
    ):
        return True
    return any(_is_instant(arg) for arg in typing.get_args(annotation))


@cache
def moment_fields(event_type: type[TicketEvent]) -> tuple[str, ...]:
    """An event's own instants (besides ``occurred_at``) a metric may start or stop at."""
    return tuple(
        name
        for name, info in event_type.model_fields.items()
        if name not in _ENVELOPE and _is_instant(info.annotation)
    )


@cache
def event_references() -> frozenset[str]:
    """Every event reference a metric may name."""
    names = {cls.__name__ for cls in TICKET_EVENT_TYPES}
    fields = {f"{cls.__name__}.{f}" for cls in TICKET_EVENT_TYPES for f in moment_fields(cls)}
    return frozenset(names | fields)


def _event_reference(name: str) -> str:
    if not name.strip():
        raise PydanticCustomError("event", "names no event: give the ticket event's name")
    if name not in event_references():
        known = ", ".join(sorted(n for n in event_references() if "." not in n))
        raise PydanticCustomError(
            "event", f'"{name}" is not a ticket event (one of: {known}, or Event.time_field)'
        )
    return name


def _metric_name(name: str) -> str:
    if not METRIC_NAME.match(name):
        raise PydanticCustomError(
            "metric_name",
            f'"{name}" is not a metric name: lower-case letters, digits and "_", '
            "starting with a letter, at most 20 characters",
        )
    return name


EventRef = Annotated[str, AfterValidator(_event_reference)]
MetricName = Annotated[str, AfterValidator(_metric_name)]


class MetricDef(Immutable):
    """One clock: from ``start`` (+ ``start_after``) to ``stop``; see the module docstring."""

    start: EventRef = "Reported"
    start_after: str | None = None
    """A target text (``"8h"``): the clock starts that long after the start event, on the
    contract's clock, pauses excluded. Checked by the contract (``ledger.domain.sla``)."""
    stop: EventRef | None = None
    """Required: checked with a message of its own (a metric needs its stop)."""
    void: EventRef | None = None
    void_until: Literal["stop", "due"] = "stop"
    pausing: bool = True
    clock: Literal["contract", "24x7"] = "contract"
    """``"24x7"``: this metric runs around the clock on a business-hours contract (seed 000:
    the hotline keeps office hours, but "30 minutes after we hear of it" does not)."""
    categories: tuple[Category, ...] = Field(default=(), max_length=2)
    """The ticket categories it applies to; empty: every category."""
    escalate: bool = False
    """Whether this clock, once past due, also climbs the contract's ``[escalation]`` ladder
    as an unanswered call does (``respond`` always does); the sweep notes a declared metric
    overdue (``MetricOverdueNoted``) either way."""

    @model_validator(mode="after")
    def _has_stop(self) -> MetricDef:
        if self.stop is None:
            raise PydanticCustomError(
                "metric",
                'a metric needs the event that stops its clock (stop = "ServiceFormFiled", ...)',
            )
        if self.void_until == "due" and self.void is None:
            raise PydanticCustomError("metric", 'void_until = "due" needs a void event')
        return self

    @property
    def stop_event(self) -> str:
        assert self.stop is not None
        return self.stop


BUILTIN_METRICS: dict[str, MetricDef] = {
    "respond": MetricDef(stop="Responded"),
    "arrive": MetricDef(stop="Arrived", void="Resolved"),
    "resolve": MetricDef(stop="Resolved"),
    "replacement": MetricDef(stop="ReplacementProvided", void="Resolved", void_until="due"),
}
"""The four clocks every contract knows, in the order a ticket meets them."""

VOID_NOTES = {
    "arrive": "resolved before anyone arrived",
    "replacement": "resolved before a replacement unit was due",
}
"""The built-in metrics' own words for "did not apply" (reports translate them)."""


def moment_of(ticket: Ticket, reference: str) -> datetime | None:
    """The first moment of an event reference in the ticket's history (``None``: not yet).

    The built-in stops read the ticket's own fields (the first response, arrival and fix, the
    earliest replacement unit), so a built-in definition judges exactly as before.
    """
    match reference:
        case "Reported":
            return ticket.reported_at
        case "Responded":
            return ticket.responded_at
        case "Arrived":
            return ticket.first_arrived_at
        case "Resolved":
            return ticket.first_resolved_at
        case "ReplacementProvided":
            return min((r.provided_at for r in ticket.replacements), default=None)
        case "Cancelled":
            return ticket.cancelled_at
    return ticket.milestones.get(reference)


def metric_rank(name: str) -> tuple[int, str]:
    """Sort key of metric names: the built-in four in their order, then the others by name."""
    order = tuple(BUILTIN_METRICS)
    return (order.index(name), "") if name in order else (len(order), name)


METRIC_WORDS_ZH = {
    "respond": "响应",
    "arrive": "到场",
    "resolve": "修复",
    "replacement": "备用机",
    "diagnose": "诊断报告",
    "consult_solution": "咨询方案",
    "fault_solution": "故障解决方案",
    "consult_reply": "咨询回复",
    "contact_notice": "联系人变更通知",
    "temporary": "临时措施",
    "form_filed": "服务记录归档",
}
"""Chinese names of the built-in metrics and of those the seed contracts declare (another
declared metric shows its own name)."""
