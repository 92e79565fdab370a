"""SLA clock arithmetic: when a target falls due and whether it was kept. Pure functions.

A promise such as "respond in 30 minutes" is measured on a clock that only runs while the
service is covered: all the time for a 24x7 contract, only inside business hours on
working days for a business-hours contract, and never while the ticket is suspended (a
:class:`Pause`). Everything here works on timezone-aware datetimes and returns UTC ones,
because instants are compared and stored in UTC; the contract's time zone only decides
where local days and business hours begin and end. Nothing here reads the system clock:
``now`` is always passed in.

Targets (:func:`parse_target`):

* ``"5m"``, ``"2h"``, ``"1h30m"`` (:class:`CoveredDuration`): that much covered time after
  the report. A report outside business hours starts counting at the next opening.
* ``"3 days"`` (:class:`WallClockDays`): N×24 h of wall-clock time, whatever the coverage.
* ``"same-day"`` (:class:`SameDay`): by the close of the working day of the report; a
  report on a non-working day, or at or after close, is due at the close of the next
  working day. On 24x7 coverage the close is 24:00 and every day is a service day, so a
  same-day target is due at the next local midnight (holidays included).
* ``"2 workdays"`` (:class:`Workdays`): by the close (24:00 for 24x7) of the N-th working
  day strictly after the local date of the report, whatever the hour or kind of that date
  (so a report on Saturday, "1 workday", is due Monday at close, like "same-day"). On 24x7
  coverage this needs a working-day calendar too.

Pauses and day targets: a day target is turned into a budget of covered time, the covered
time from the report to its unpaused deadline, and that budget is then spent exactly like a
duration target's. So a pause pushes the deadline by the covered time it overlaps (a one
hour pause at 16:00 on the due day of a business-hours "same-day" target moves 17:30 to
09:00 of the next working day), and every kind of target treats pauses alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import TypeAlias

from ledger.domain.calendar import WorkCalendar

_FOREVER = datetime.max.replace(tzinfo=UTC)
_ZERO = timedelta(0)
_MINUTE = timedelta(minutes=1)
_ONE_DAY = timedelta(days=1)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value.astimezone(UTC)


def _at(day: date, clock_time: time, tz: tzinfo) -> datetime:
    """The UTC instant of a local wall-clock time on a local date."""
    return datetime.combine(day, clock_time, tzinfo=tz).astimezone(UTC)


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Coverage:
    """When the SLA clock runs: 24x7, or business hours on working days.

    Build it with :meth:`around_the_clock` or :meth:`business`. ``tz`` places local days
    (and business hours) on the timeline. A 24x7 coverage may carry a calendar, needed
    only by ``"N workdays"`` targets. Business hours are one block per working day
    (``open < close``, no overnight shifts, no lunch break).
    """

    tz: tzinfo
    calendar: WorkCalendar | None = None
    open: time | None = None
    close: time | None = None

    def __post_init__(self) -> None:
        if (self.open is None) != (self.close is None):
            raise ValueError("business hours need both an opening and a closing time")
        if self.open is not None and self.close is not None:
            if self.calendar is None:
                raise ValueError("business hours need a working-day calendar")
            if self.open.tzinfo is not None or self.close.tzinfo is not None:
                raise ValueError("opening and closing times are local times, without a zone")
            if not self.open < self.close:
                raise ValueError(
                    f"opening time {self.open:%H:%M} must be before closing time {self.close:%H:%M}"
                )

    @classmethod
    def around_the_clock(cls, tz: tzinfo, calendar: WorkCalendar | None = None) -> Coverage:
        """24x7: every instant is covered."""
        return cls(tz=tz, calendar=calendar)

    @classmethod
    def business(cls, open: time, close: time, calendar: WorkCalendar, tz: tzinfo) -> Coverage:
        """From ``open`` to ``close`` local time on the calendar's working days."""
        return cls(tz=tz, calendar=calendar, open=open, close=close)

    @property
    def is_24x7(self) -> bool:
        return self.open is None


def _workday_calendar(coverage: Coverage, why: str) -> WorkCalendar:
    if coverage.calendar is None:
        raise ValueError(f"{why} needs a working-day calendar, and this coverage has none")
    return coverage.calendar


def _day_close(day: date, coverage: Coverage) -> datetime:
    """The instant a local day's service closes: ``close``, or 24:00 for 24x7."""
    if coverage.close is None:
        return _at(day + _ONE_DAY, time(0), coverage.tz)
    return _at(day, coverage.close, coverage.tz)


def _covered_segments(
    start: datetime, until: datetime, coverage: Coverage
) -> Iterator[tuple[datetime, datetime]]:
    """Covered intervals ``[from, to)`` in UTC, in order, clipped to ``[start, until)``.

    Asks the calendar about no day after ``until``'s local date, so a span that ends before
    an unknown year never raises ``CalendarError``.
    """
    if coverage.open is None or coverage.close is None or coverage.calendar is None:
        if start < until:
            yield start, until
        return
    day = start.astimezone(coverage.tz).date()
    last_day = date.max if until == _FOREVER else until.astimezone(coverage.tz).date()
    while day <= last_day:
        if coverage.calendar.is_workday(day):
            opens = max(_at(day, coverage.open, coverage.tz), start)
            closes = min(_at(day, coverage.close, coverage.tz), until)
            if opens < closes:
                yield opens, closes
        day += _ONE_DAY


# --------------------------------------------------------------------------- pauses


@dataclass(frozen=True)
class Pause:
    """A suspension of the clock: from ``start`` (Suspended) to ``end`` (Resumed).

    An open pause (the ticket is still suspended) has ``end=None`` and stops the clock for
    good, until a Resumed event closes it.
    """

    start: datetime
    end: datetime | None = None

    def __post_init__(self) -> None:
        start = _utc(self.start, "a pause's start")
        if self.end is not None and _utc(self.end, "a pause's end") < start:
            raise ValueError(
                f"a pause cannot end ({self.end.isoformat()}) before it starts "
                f"({self.start.isoformat()})"
            )


def _merged(pauses: Iterable[Pause], after: datetime) -> list[tuple[datetime, datetime]]:
    """Pauses as sorted, disjoint UTC intervals that end after ``after``."""
    spans = sorted(
        (p.start.astimezone(UTC), _FOREVER if p.end is None else p.end.astimezone(UTC))
        for p in pauses
    )
    merged: list[tuple[datetime, datetime]] = []
    for begin, end in spans:
        if end <= after or begin == end:
            continue
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((begin, end))
    return merged


def _running(
    start: datetime, until: datetime, coverage: Coverage, pauses: Iterable[Pause]
) -> Iterator[tuple[datetime, datetime]]:
    """The intervals in ``[start, until)`` when the clock runs: covered and not paused.

    Ends (rather than looping over ever more days) once an open pause stops the clock.
    """
    stops = _merged(pauses, start)
    i = 0
    for seg_start, seg_end in _covered_segments(start, until, coverage):
        cursor = seg_start
        while i < len(stops) and stops[i][1] <= cursor:
            i += 1
        while i < len(stops) and stops[i][0] < seg_end:
            stop_start, stop_end = stops[i]
            if stop_start > cursor:
                yield cursor, stop_start
            cursor = max(cursor, stop_end)
            if stop_end >= seg_end:
                break
            i += 1
        if cursor == _FOREVER:
            return
        if cursor < seg_end:
            yield cursor, seg_end


# --------------------------------------------------------------------------- the clock


def covered_between(
    start: datetime, end: datetime, coverage: Coverage, pauses: Iterable[Pause] = ()
) -> timedelta:
    """Covered time from ``start`` to ``end``, pauses excluded (zero if ``end <= start``).

    24x7: wall-clock time; business: only time inside business hours on working days.
    Business coverage raises ``CalendarError`` if a day of the span lies in a year the
    calendar does not know; days after ``end`` are never asked about.
    """
    start = _utc(start, "start")
    end = _utc(end, "end")
    total = _ZERO
    for run_start, run_end in _running(start, end, coverage, pauses):
        total += run_end - run_start
    return total


def due_after(
    start: datetime, duration: timedelta, coverage: Coverage, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """The first instant (UTC) at which ``duration`` of covered time has run since ``start``.

    A start outside business hours begins counting at the next opening; a duration that
    runs out exactly at a close is due at that close, not at the next opening. ``None``
    when an open pause stops the clock before the duration has run: the due time is not
    known yet.
    """
    start = _utc(start, "start")
    if duration < _ZERO:
        raise ValueError(f"a duration cannot be negative: {duration}")
    if duration == _ZERO:
        return start
    remaining = duration
    for run_start, run_end in _running(start, _FOREVER, coverage, pauses):
        if run_end - run_start >= remaining:
            return run_start + remaining
        remaining -= run_end - run_start
    return None


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class CoveredDuration:
    """``"5m"``, ``"2h"``, ``"1h30m"``: that much covered time."""

    length: timedelta

    def __post_init__(self) -> None:
        if self.length <= _ZERO or self.length % _MINUTE:
            raise ValueError(
                f"a duration target is a positive whole number of minutes: {self.length}"
            )

    def __str__(self) -> str:
        hours, minutes = divmod(self.length // _MINUTE, 60)
        return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")


@dataclass(frozen=True)
class WallClockDays:
    """``"3 days"``: N×24 hours of wall-clock time, whatever the coverage."""

    days: int

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"a day target is at least 1 day, not {self.days}")

    def __str__(self) -> str:
        return f"{self.days} day" if self.days == 1 else f"{self.days} days"


@dataclass(frozen=True)
class SameDay:
    """``"same-day"``: by the close of the working day of the report."""

    def __str__(self) -> str:
        return "same-day"


@dataclass(frozen=True)
class Workdays:
    """``"2 workdays"``: by the close of the N-th working day after the report day."""

    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"a workday target is at least 1 workday, not {self.count}")

    def __str__(self) -> str:
        return f"{self.count} workday" if self.count == 1 else f"{self.count} workdays"


Target: TypeAlias = CoveredDuration | WallClockDays | SameDay | Workdays

_EXAMPLES = '(e.g. "30m", "2h", "1h30m", "3 days", "same-day", "2 workdays")'
_HOURS_MINUTES = re.compile(r"(?:(?P<h>\d{1,6})\s*h)?\s*(?:(?P<m>\d{1,6})\s*m)?")
_COUNTED = re.compile(r"(?P<n>\d{1,6})\s*(?P<unit>days?|workdays?)")
_SAME_DAY = re.compile(r"same[- ]day")
_MAX_DAYS = 3660
"""Ten years: longer than any warranty, so a longer target is a typo."""


def parse_target(text: str) -> Target:
    """Read a target as written in a contract; ``ValueError`` says what is wrong."""
    clean = text.strip().lower()
    if _SAME_DAY.fullmatch(clean):
        return SameDay()
    counted = _COUNTED.fullmatch(clean)
    if counted:
        n = int(counted["n"])
        if n < 1:
            raise ValueError(f'"{text}" is not a duration: it must be at least 1 {_unit(text)}')
        if n > _MAX_DAYS:
            raise ValueError(f'"{text}" is not a duration: it is too long')
        return Workdays(n) if counted["unit"].startswith("work") else WallClockDays(n)
    hm = _HOURS_MINUTES.fullmatch(clean)
    if clean and hm:
        length = timedelta(hours=int(hm["h"] or 0)) + timedelta(minutes=int(hm["m"] or 0))
        if length <= _ZERO:
            raise ValueError(f'"{text}" is not a duration: it must be longer than zero')
        if length > _MAX_DAYS * _ONE_DAY:
            raise ValueError(f'"{text}" is not a duration: it is too long')
        return CoveredDuration(length)
    raise ValueError(f'"{text}" is not a duration {_EXAMPLES}')


def target_zh(text: str) -> str:
    """A target as a Chinese sentence says it: ``"7 days"`` → ``7 天``, ``"1h30m"`` →
    ``1 小时 30 分钟``, ``"2 workdays"`` → ``2 个工作日``, ``"same-day"`` → ``当日``."""
    target = parse_target(text)
    if isinstance(target, SameDay):
        return "当日"
    if isinstance(target, WallClockDays):
        return f"{target.days} 天"
    if isinstance(target, Workdays):
        return f"{target.count} 个工作日"
    hours, minutes = divmod(target.length // _MINUTE, 60)
    return " ".join(
        [*([f"{hours} 小时"] if hours else []), *([f"{minutes} 分钟"] if minutes else [])]
    )


def _unit(text: str) -> str:
    return "workday" if "work" in text.lower() else "day"


def clock_for(target: Target, coverage: Coverage) -> Coverage:
    """The clock a target runs on: wall-clock days ignore business hours."""
    if isinstance(target, WallClockDays) and not coverage.is_24x7:
        return replace(coverage, open=None, close=None)
    return coverage


def _unpaused_deadline(
    target: SameDay | Workdays, reported_at: datetime, coverage: Coverage
) -> datetime:
    local = reported_at.astimezone(coverage.tz)
    if isinstance(target, Workdays):
        calendar = _workday_calendar(coverage, f'"{target}"')
        return _day_close(calendar.nth_workday_after(local.date(), target.count), coverage)
    if coverage.close is None:  # 24x7: every day is a service day, closing at 24:00
        return _day_close(local.date(), coverage)
    calendar = _workday_calendar(coverage, '"same-day"')
    day = local.date()
    if not calendar.is_workday(day) or local.time() >= coverage.close:
        day = calendar.next_workday(day)
    return _day_close(day, coverage)


def deadline(
    target: Target, reported_at: datetime, coverage: Coverage, pauses: Iterable[Pause] = ()
) -> datetime | None:
    """When ``target`` falls due (UTC) for a report at ``reported_at``.

    ``None`` while an open pause has stopped the clock before the target fell due.
    """
    reported_at = _utc(reported_at, "reported_at")
    pauses = tuple(pauses)
    clock = clock_for(target, coverage)
    match target:
        case CoveredDuration(length):
            budget = length
        case WallClockDays(days):
            budget = days * _ONE_DAY
        case SameDay() | Workdays():
            budget = covered_between(
                reported_at, _unpaused_deadline(target, reported_at, clock), clock
            )
    return due_after(reported_at, budget, clock, pauses)


# --------------------------------------------------------------------------- verdicts


class SlaStatus(StrEnum):
    MET = "met"  # done by the due time
    BREACHED = "breached"  # done, but after the due time
    PENDING = "pending"  # not done, not yet due
    OVERDUE = "overdue"  # not done, past due
    NOT_APPLICABLE = "n/a"  # the promise did not apply (e.g. fixed remotely: no arrival due)
    UNKNOWN = "unknown"  # cannot be judged yet (e.g. the year's working-day table is missing)

    @property
    def is_final(self) -> bool:
        """Whether the verdict can no longer change as time passes."""
        return self in (SlaStatus.MET, SlaStatus.BREACHED, SlaStatus.NOT_APPLICABLE)


@dataclass(frozen=True)
class Verdict:
    """One target of one ticket, judged: times in UTC, breach in covered minutes."""

    status: SlaStatus
    due_at: datetime | None
    done_at: datetime | None
    breach_minutes: int


def whole_minutes_up(span: timedelta) -> int:
    return -(-span // _MINUTE)


def evaluate(
    target: Target,
    reported_at: datetime,
    done_at: datetime | None,
    now: datetime,
    coverage: Coverage,
    pauses: Iterable[Pause] = (),
) -> Verdict:
    """Judge one target of a ticket as things stand at ``now``.

    Once ``done_at`` is given the verdict is final (met or breached) and ``now`` is not
    used: a done time may lie a little after ``now`` when the actor's clock is ahead.
    Met means done at or before the due time. The breach is the covered time (on the
    target's own clock, pauses excluded) from the due time to the done time, or to ``now``
    when overdue, rounded up to whole minutes; it can be 0 for work finished late but
    outside business hours (e.g. due 17:30, done 18:00), which is still breached. While an
    open pause stops the clock before the due time, the due time is ``None`` and the target
    is pending (or met, if done).
    """
    reported_at = _utc(reported_at, "reported_at")
    pauses = tuple(pauses)
    due = deadline(target, reported_at, coverage, pauses)
    return verdict_at(target, due, done_at, now, coverage, pauses)


def verdict_at(
    target: Target,
    due: datetime | None,
    done_at: datetime | None,
    now: datetime,
    coverage: Coverage,
    pauses: tuple[Pause, ...] = (),
) -> Verdict:
    """:func:`evaluate` for a target whose due time (:func:`deadline`) is already known."""
    now = _utc(now, "now")
    done = None if done_at is None else _utc(done_at, "done_at")
    end = done if done is not None else now
    if due is None or end <= due:
        status = SlaStatus.PENDING if done is None else SlaStatus.MET
        return Verdict(status, due, done, 0)
    late = covered_between(due, end, clock_for(target, coverage), pauses)
    status = SlaStatus.OVERDUE if done is None else SlaStatus.BREACHED
    return Verdict(status, due, done, whole_minutes_up(late))
