"""Reading times from people and showing times to people.

Stored times are UTC. A naive time typed by a person means the configured zone
(default Asia/Shanghai); output is shown in that zone too.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger.bounds import LAST_DATE
from ledger.domain.errors import DomainError

DEFAULT_ZONE_NAME = "Asia/Shanghai"
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""Nothing in this ledger happened before 2000; an earlier time is a typo."""
LATEST = datetime.combine(LAST_DATE + timedelta(days=1), time(), UTC)
"""Nor after the last date a report may cover (:data:`ledger.bounds.LAST_DATE`)."""


def zone(name: str | None) -> tzinfo:
    try:
        return ZoneInfo(name or DEFAULT_ZONE_NAME)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: e.g. a name too long
        raise ValueError(f"unknown time zone {name!r} (e.g. Asia/Shanghai, UTC)") from None


def localise(value: datetime, tz: tzinfo) -> datetime:
    """Give a naive datetime the configured zone; check it is a plausible service time."""
    aware = value.replace(tzinfo=tz) if value.tzinfo is None else value
    if aware < EARLIEST:
        raise ValueError(f"{value.isoformat()} is before 2000-01-01: not a plausible time")
    if aware >= LATEST:
        raise ValueError(f"{value.isoformat()} is after {LAST_DATE}: not a plausible time")
    return aware


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as typed; naive stays naive (the caller knows the zone)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not an ISO 8601 time (e.g. 2024-02-09T16:40+08:00)"
        ) from None


def parse_time(text: str, tz: tzinfo) -> datetime:
    return localise(parse_iso(text), tz)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes for what we stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def show(value: datetime | None, tz: tzinfo, timespec: str = "seconds") -> str:
    """A time for a person, in ``tz`` with its offset (``timespec="minutes"`` in messages)."""
    if value is None:
        return ""
    return as_utc(value).astimezone(tz).isoformat(timespec=timespec)


def show_error(error: Exception, tz: tzinfo) -> str:
    """An error's message with its times in ``tz``, to the minute (a domain error names
    its times apart from its text: ``DomainError.render``)."""
    if isinstance(error, DomainError):
        return error.render(lambda value: show(value, tz, "minutes"))
    return str(error)
