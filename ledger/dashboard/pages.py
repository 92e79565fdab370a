"""What every dashboard page needs: its templates and how a page is rendered (language,
user, CSRF token, security headers), the logged-in user of a request (their session
checked against the users), what they may see, and the overview's filters from the query.
The routes are in :mod:`ledger.dashboard.web`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks

from ledger.bootstrap import Ledger
from ledger.commands.users import API_ROLES, User, Users
from ledger.dashboard import charts
from ledger.dashboard.notifications import READERS as NOTIFICATION_READERS
from ledger.dashboard.queries import (
    PERIOD_KINDS,
    Filters,
    PeriodKind,
    Scope,
    contract_names,
    period_of,
)
from ledger.dashboard.words import lang_of, word
from ledger.domain.privacy import ERASED, ERASED_EN
from ledger.reports.common import duration_text
from ledger.reports.export import Lang
from ledger.sessions import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    Signer,
    session_user,
)
from ledger.timeutil import show

HERE = Path(__file__).parent
REFRESH_SECONDS = 60
READS_EVERYTHING = API_ROLES
"""The roles that see every ticket (the API's); an engineer sees their own."""
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'"
)

templates = Jinja2Blocks(directory=str(HERE / "templates"))


class LoginRequired(Exception):
    """No valid session: a page redirects to the login form."""


class Forbidden(Exception):
    """A logged-in user asked for what their role does not show."""


class PageNotFound(Exception):
    """No such ticket, or not one of the user's."""


def scope_of(user: User) -> Scope:
    return Scope() if user.role in READS_EVERYTHING else Scope(engineer=user.name)


# --------------------------------------------------------------------------- plumbing


def signer_of(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


def ledger_of(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


def lang(request: Request) -> Lang:
    return lang_of(request.cookies.get(LANG_COOKIE))


def _contract_names(request: Request) -> Callable[[str | None], str]:
    """A contract's name for a person to read (its id when it has none); the names are
    read once per page, when first needed."""
    names: dict[str, str] = {}

    def name(contract_id: str | None) -> str:
        if contract_id is None:
            return "—"
        if not names:
            names.update(contract_names(ledger_of(request)))
        return names.get(contract_id, contract_id)

    return name


def page_user(request: Request) -> User:
    """The logged-in user of a page request (their session checked against the users
    table: a revoked user or a re-issued token ends the session)."""
    users: Users = request.app.state.users
    cookie = request.cookies.get(SESSION_COOKIE)
    user = session_user(signer_of(request), users, cookie, ledger_of(request).clock.now())
    if user is None:
        raise LoginRequired
    return user


UserDep = Annotated[User, Depends(page_user)]
LangDep = Annotated[Lang, Depends(lang)]


def _csrf_cookie(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, and whether it is new (to be set on the response)."""
    existing = request.cookies.get(CSRF_COOKIE)
    return (existing, False) if existing else (Signer.new_csrf_cookie(), True)


def is_secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    engine: Jinja2Blocks | None = None,
) -> Response:
    """A page (or one of its blocks) with what every page needs: the language, the user,
    a CSRF token for its forms, and the security headers; ``engine``: another adapter's
    templates (the workbench's) rendered the same way."""
    cookie, new = _csrf_cookie(request)
    language = lang(request)
    user = context.get("user")
    full = {
        "request": request,
        "lang": language,
        "other_lang": "en" if language == "zh" else "zh",
        "t": lambda key, **values: word(key, language, **values),
        "personal": lambda value: ERASED_EN if value == ERASED and language == "en" else value,
        "duration": lambda minutes: duration_text(minutes, language),
        "contract_name": _contract_names(request),
        "csrf": signer_of(request).csrf_token(cookie),
        "scripts": charts.script_urls(),
        "static": charts.STATIC_PREFIX,
        "refresh": REFRESH_SECONDS,
        "tz": ledger_of(request).tz,
        "show": show,
        "sees_all": isinstance(user, User) and scope_of(user).engineer is None,
        "sees_notifications": isinstance(user, User) and user.role in NOTIFICATION_READERS,
        **context,
    }
    response: Response = (engine or templates).TemplateResponse(
        request, template, full, block_name=block, status_code=status_code
    )
    secured(response)
    if new:
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=is_secure(request)
        )
    return response


def secured(response: Response, csp: str = CSP) -> Response:
    """The headers every dashboard response carries."""
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def panel_of(request: Request, panels: tuple[str, ...]) -> str | None:
    """The block an htmx request asks for (its ``HX-Target``), if it names one of the
    page's ``panels``; any other target gets the whole page."""
    if not is_htmx(request):
        return None
    target = request.headers.get("HX-Target") or ""
    return target if target in panels else None


OVERVIEW_PANELS = ("panels", "list")
QUALITY_PANELS = ("panels",)
"""The element ids whose blocks htmx may ask for alone, per page (its template's blocks)."""


def safe_next(target: str | None) -> str:
    """Only a path on this server: never an open redirect (browsers read ``/\\host`` as
    ``//host``, so no backslash either)."""
    if not target:
        return "/dashboard"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/dashboard"
    if "\\" in target:
        return "/dashboard"
    return target


TextQ = Annotated[str | None, Query(max_length=200)]


def parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def page_filters(
    request: Request,
    period: TextQ = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    contract: TextQ = None,
    customer: TextQ = None,
) -> Filters:
    """The overview's filters from the query; a period that cannot be read (an unknown
    kind, a custom one without both dates or back to front) falls back to this month."""
    ledger = ledger_of(request)
    kind: PeriodKind = period if period in PERIOD_KINDS else "month"
    today = ledger.clock.now().astimezone(ledger.tz).date()
    try:
        chosen = period_of(kind, today, parse_day(date_from), parse_day(date_to))
    except ValueError:
        kind, chosen = "month", period_of("month", today, None, None)
    return Filters(chosen, kind, contract or None, customer or None)


FiltersDep = Annotated[Filters, Depends(page_filters)]


def plain(text: str, status: int) -> Response:
    return secured(Response(text, status_code=status, media_type="text/plain; charset=utf-8"))


def filters_query(filters: Filters) -> str:
    """The filters as a query string, for the links of tiles and charts."""
    period = filters.period
    values = {
        "period": filters.kind,
        "from": period.first.isoformat() if period.first else None,
        "to": period.last.isoformat() if period.last else None,
        "contract": filters.contract,
        "customer": filters.customer,
    }
    return urlencode({k: v for k, v in values.items() if v})
