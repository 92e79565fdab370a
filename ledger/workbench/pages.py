"""What every workbench page needs: the logged-in user (the dashboard's session login), how
a page is rendered (the dashboard's render over the workbench's templates and words), the
nav (the pages this user's role may open) and the role checks, read from the registry's
role matrix so a button is shown exactly when the write behind it would be allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from jinja2 import ChoiceLoader, FileSystemLoader
from jinja2_fragments.fastapi import Jinja2Blocks

from ledger.api.routes import READS_TICKETS
from ledger.commands.registry import ALLOWED
from ledger.commands.users import User
from ledger.dashboard import pages as dashboard_pages
from ledger.dashboard.charts import VENDOR_PREFIX
from ledger.dashboard.pages import UserDep, lang
from ledger.domain.sla import target_zh
from ledger.domain.values import Role
from ledger.workbench.words import word

HERE = Path(__file__).parent
STATIC_PREFIX = "/workbench/static/"
HTMX = f"{VENDOR_PREFIX}htmx-2.0.11.min.js"
"""The dashboard's vendored htmx, at its static URL (one copy)."""

templates = Jinja2Blocks(directory=str(HERE / "templates"))
templates.env.loader = ChoiceLoader(
    [FileSystemLoader(HERE / "templates"), FileSystemLoader(dashboard_pages.HERE / "templates")]
)
"""The workbench's templates (``workbench/*.html``), which may import the dashboard's
macros."""

WorkbenchUserDep = UserDep
"""The logged-in user of a workbench page: the dashboard's session login (no session: a
redirect to ``/login?next=`` this page)."""


def may(user: User, command_name: str) -> bool:
    """Whether the role matrix lets ``user`` issue ``command_name`` (deny by default)."""
    return user.role in ALLOWED.get(command_name, frozenset())


def sees_all(user: User) -> bool:
    """Whether ``user`` reads every ticket: the API's rule (``READS_TICKETS``: the readers,
    the desk, the administrator); an engineer reads their own."""
    return user.role in READS_TICKETS


def engineer_scope(user: User) -> str | None:
    """The engineer whose tickets ``user`` sees (their own), ``None`` for every ticket."""
    return None if sees_all(user) else user.name


def takes_calls(user: User) -> bool:
    """Whether ``user`` opens the hotline's intake: a role that may ``report``, but not a
    customer (the intake lists every contract and what earlier tickets remember)."""
    return may(user, "report") and user.role is not Role.CUSTOMER


@dataclass(frozen=True)
class NavItem:
    key: str
    """The page's word (``nav:<key>``) and its ``page`` name for the highlighted link."""
    href: str
    shown: Callable[[User], bool]


_READS_QUEUES = frozenset(Role) - {Role.CUSTOMER, Role.SYSTEM}

NAV: list[NavItem] = [
    NavItem("intake", "/workbench/intake", lambda user: takes_calls(user)),
    NavItem("queues", "/workbench/queues", lambda user: user.role in _READS_QUEUES),
    NavItem("search", "/workbench/search", lambda user: user.role in _READS_QUEUES),
    NavItem("dashboard", "/dashboard", lambda user: user.role is not Role.CUSTOMER),
]
"""The workbench's pages, in the nav's order, each with who may open it. Each engineer
appends their pages' items (``NAV.append`` in their module, or a line here)."""


def nav_for(user: User) -> list[NavItem]:
    return [item for item in NAV if item.shown(user)]


def new_idempotency_key() -> str:
    """The hidden key a form is rendered with: a double submit records once."""
    return f"wb-{uuid.uuid4().hex}"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    """A workbench page (or one of its blocks), rendered as the dashboard's are (language,
    CSRF token, CSP and security headers) with the workbench's words and nav."""
    language = lang(request)
    user = context.get("user")
    full = {
        "t": lambda key, **values: word(key, language, **values),
        "nav": nav_for(user) if isinstance(user, User) else [],
        "may": (lambda name: may(user, name)) if isinstance(user, User) else (lambda _: False),
        "wb_static": STATIC_PREFIX,
        "now": dashboard_pages.ledger_of(request).clock.now(),
        "target_text": lambda text: target_zh(text) if language == "zh" else text,
        "htmx": HTMX,
        **context,
    }
    return dashboard_pages.render(
        request, template, full, block=block, status_code=status_code, engine=templates
    )
