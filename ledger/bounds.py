"""The ranges a number or a date typed by a person may take, in one place for the CLI's
option types, the API's parameters (and so its OpenAPI document) and the dashboard.

A value outside its range is bad input (exit 2, HTTP 422) named with the range, never an
overflow deep inside: a chain position or an event version is a signed 64-bit integer in
both databases, and a date must leave room for the period before it and for its instants
in any zone.
"""

from __future__ import annotations

import re
from datetime import date

MAX_POSITION = 2**63 - 1
"""The largest chain position or aggregate version (a signed 64-bit integer column)."""

FIRST_DATE = date(1990, 1, 1)
LAST_DATE = date(2199, 12, 31)
"""The dates a report period (and the dashboard's custom period) may span."""

DATE_RANGE = f"{FIRST_DATE} … {LAST_DATE}"

DATE_PATTERN = r"^(199\d|2[01]\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
"""A date ``YYYY-MM-DD`` of a year from 1990 to 2199 (the API's schema says it; the day
itself is checked by :func:`parse_date`)."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def position_text(name: str, value: object) -> str:
    return f"{name} must be between 0 and {MAX_POSITION}, not {value}"


def check_date(value: date, name: str) -> date:
    """``value`` if it lies in :data:`FIRST_DATE` … :data:`LAST_DATE`; else ``ValueError``."""
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(f"{name} {value} is outside the dates allowed ({DATE_RANGE})")
    return value


def parse_date(text: str, name: str) -> date:
    """A date typed as ``YYYY-MM-DD`` in the allowed range; ``ValueError`` naming ``name``
    otherwise (no other form: ``0.0`` is not a date)."""
    if not _DATE.match(text.strip()):
        raise ValueError(f"{name}: {text!r} is not a date like 2026-10-31")
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a date like 2026-10-31") from None
    return check_date(value, name)
