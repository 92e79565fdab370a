"""JSON shapes of contracts and working-day tables for the CLI (times in the user's zone)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Literal

from ledger.commands.contracts import Loaded, YearTable
from ledger.domain.contract import METRICS, Contract, Policy, Revision
from ledger.domain.sla import target_zh
from ledger.domain.values import EscalationLevel, Severity
from ledger.timeutil import as_utc, show

_ONE_DAY = timedelta(days=1)


def calendar_text(policy: Policy) -> str:
    """``24x7`` or ``business 08:00–17:30``."""
    hours = policy.business_hours
    if hours is None:
        return "24x7"
    return f"business {hours.open:%H:%M}–{hours.close:%H:%M}"


def local_day(policy: Policy, when: datetime) -> date:
    """The date it is at ``when`` where the contract's customer is."""
    return as_utc(when).astimezone(policy.zone).date()


def severity_targets(policy: Policy) -> dict[str, dict[str, str | None]]:
    """The effective promise per severity and metric (``default`` filled in); ``None``: not
    promised, so not judged."""
    names = [*METRICS, *(m for m in policy.metrics if m not in METRICS)]
    return {
        severity.value: {
            metric: policy.targets.for_severity(severity).given().get(metric) for metric in names
        }
        for severity in Severity
    }


def promise_text(
    policy: Policy, severity: Severity, words: Mapping[str, str], lang: Literal["en", "zh"]
) -> str:
    """What the contract promises for ``severity``, as the hotline reads it out and
    ``contract show`` prints it: ``响应 5 分钟 · 到场 30 分钟 · 修复 4 小时``; a clock that
    starts later than its start event says so (``备机 8 小时后再 30 分钟``). ``words``: each
    metric's name (a metric without one shows its own)."""
    parts = []
    for metric, text in policy.targets.for_severity(severity).given().items():
        shown = target_zh(text) if lang == "zh" else text
        declared = policy.metrics.get(metric)
        if declared is not None and declared.start_after:  # a clock that starts later
            after = declared.start_after
            shown = f"{target_zh(after)}后再 {shown}" if lang == "zh" else f"{shown} after {after}"
        parts.append(f"{words.get(metric, metric)} {shown}")
    return " · ".join(parts)


def metric_definitions(policy: Policy) -> dict[str, dict[str, Any]]:
    """Every clock of the policy (built-in ones as redefined, then declared ones): where it
    starts and stops, what voids it, which categories it applies to."""
    return {
        name: definition.model_dump(mode="json")
        for name, definition in policy.metric_definitions.items()
    }


def escalation_ladder(policy: Policy) -> list[tuple[str, str]]:
    """The automatic ladder, lowest rung first: (level, how long the response is overdue)."""
    return [
        (level.value, policy.escalation[level])
        for level in EscalationLevel
        if level in policy.escalation
    ]


def contract_row_view(contract: Contract, at: datetime) -> dict[str, Any]:
    """One contract as of ``at``: the facts of the revision in force then."""
    revision = contract.revision_at(at)
    policy = revision.policy
    return {
        "id": contract.contract_id,
        "name": policy.name,
        "customer": policy.customer,
        "timezone": policy.timezone,
        "calendar": calendar_text(policy),
        "revision": revision.number,
        "revision_count": len(contract.revisions),
        "warranty_start": policy.warranty.start.isoformat(),
        "warranty_last_day": policy.warranty.last_day.isoformat(),
        "in_warranty": policy.warranty.covers(local_day(policy, at)),
    }


def revision_view(revision: Revision, tz: tzinfo) -> dict[str, Any]:
    return {
        "number": revision.number,
        "effective_from": show(revision.effective_from, tz) or None,
        "recorded_at": show(revision.recorded_at, tz),
        "note": revision.note,
        "policy": revision.policy.model_dump(mode="json"),
    }


def contract_view(contract: Contract, at: datetime, tz: tzinfo) -> dict[str, Any]:
    """Everything about a contract: the revision in force at ``at`` (its facts and the
    effective targets per severity) and every revision with its complete policy."""
    policy = contract.revision_at(at).policy
    return {
        **contract_row_view(contract, at),
        "at": show(at, tz),
        "business_hours": policy.business_hours.model_dump(mode="json")
        if policy.business_hours
        else None,
        "pausing": policy.pausing,
        "targets": severity_targets(policy),
        "metrics": metric_definitions(policy),
        "escalation": dict(escalation_ladder(policy)),
        "notices": policy.notices.model_dump(mode="json"),
        "workdays": policy.workdays.model_dump(mode="json"),
        "revisions": [revision_view(r, tz) for r in contract.revisions],
    }


def loaded_view(loaded: Loaded, tz: tzinfo) -> dict[str, Any]:
    """What ``contract load`` did to one contract."""
    latest = loaded.contract.latest
    return {
        "id": loaded.contract.contract_id,
        "outcome": loaded.outcome,
        "revision": latest.number,
        "effective_from": show(latest.effective_from, tz) or None,
        "recorded_at": show(latest.recorded_at, tz),
    }


def periods(days: tuple[date, ...]) -> list[tuple[date, date]]:
    """Sorted days as runs of consecutive days: ``[(first, last), ...]``."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + _ONE_DAY == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def year_table_view(entry: YearTable) -> dict[str, Any]:
    table = entry.table
    return {
        "year": table.year,
        "origin": "loaded" if entry.loaded else "bundled",
        "source": table.source,
        "replaces_bundled": entry.loaded and entry.bundled,
        "holidays": [d.isoformat() for d in table.holidays],
        "workdays": [d.isoformat() for d in table.workdays],
        "periods": [
            {"start": a.isoformat(), "end": b.isoformat(), "days": (b - a).days + 1}
            for a, b in periods(table.holidays)
        ],
    }
