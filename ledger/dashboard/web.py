"""The supervisor dashboard's routes, served by ``ledger serve`` beside the API.

Server-rendered: Jinja2 templates, one per page, whose panels are blocks that
``jinja2-fragments`` renders alone for htmx (a panel refresh or a drill-down asks for its
block, not for the page). Browsers log in with a user name and the token ``ledger user
add`` issued (:mod:`ledger.dashboard.sessions`); auditors and supervisors see everything,
engineers their own tickets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from jinja2_fragments.fastapi import Jinja2Blocks
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.bootstrap import Ledger
from ledger.commands.service import TicketNotFound
from ledger.commands.users import API_ROLES, User, UserError, Users
from ledger.dashboard import charts
from ledger.dashboard.overview import DrillQuery
from ledger.dashboard.quality import load_quality
from ledger.dashboard.queries import (
    PERIOD_KINDS,
    Filters,
    PeriodKind,
    Scope,
    contract_names,
    filter_choices,
    load_drill,
    load_overview,
    period_of,
)
from ledger.dashboard.sessions import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Signer,
)
from ledger.dashboard.words import LANGS, lang_of, word
from ledger.reports.common import duration_text
from ledger.reports.dossier import build_dossier
from ledger.reports.dossier_render import render_html
from ledger.reports.export import Lang
from ledger.storage.tables import LedgerNotInitialised
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


def _signer(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


def _ledger(request: Request) -> Ledger:
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
            names.update(contract_names(_ledger(request)))
        return names.get(contract_id, contract_id)

    return name


def page_user(request: Request) -> User:
    """The logged-in user of a page request (their session checked against the users
    table: a revoked user or a re-issued token ends the session)."""
    ledger = _ledger(request)
    session = _signer(request).session(request.cookies.get(SESSION_COOKIE), ledger.clock.now())
    if session is None:
        raise LoginRequired
    users: Users = request.app.state.users
    try:
        user = users.get(session.name)
    except UserError:
        raise LoginRequired from None
    if not user.active or user.token_key != session.token_key:
        raise LoginRequired
    return user


UserDep = Annotated[User, Depends(page_user)]
LangDep = Annotated[Lang, Depends(lang)]


def _csrf_cookie(request: Request) -> tuple[str, bool]:
    """The browser's CSRF cookie, and whether it is new (to be set on the response)."""
    existing = request.cookies.get(CSRF_COOKIE)
    return (existing, False) if existing else (Signer.new_csrf_cookie(), True)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
) -> Response:
    """A page (or one of its blocks) with what every page needs: the language, the user,
    a CSRF token for its forms, and the security headers."""
    cookie, new = _csrf_cookie(request)
    language = lang(request)
    user = context.get("user")
    full = {
        "request": request,
        "lang": language,
        "other_lang": "en" if language == "zh" else "zh",
        "t": lambda key, **values: word(key, language, **values),
        "duration": lambda minutes: duration_text(minutes, language),
        "contract_name": _contract_names(request),
        "csrf": _signer(request).csrf_token(cookie),
        "scripts": charts.script_urls(),
        "static": charts.STATIC_PREFIX,
        "refresh": REFRESH_SECONDS,
        "tz": _ledger(request).tz,
        "show": show,
        "sees_all": isinstance(user, User) and scope_of(user).engineer is None,
        **context,
    }
    response: Response = templates.TemplateResponse(
        request, template, full, block_name=block, status_code=status_code
    )
    secured(response)
    if new:
        response.set_cookie(
            CSRF_COOKIE, cookie, httponly=True, samesite="strict", secure=_secure(request)
        )
    return response


def secured(response: Response, csp: str = CSP) -> Response:
    """The headers every dashboard response carries."""
    response.headers["Content-Security-Policy"] = csp
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _panel(request: Request, panels: tuple[str, ...]) -> str | None:
    """The block an htmx request asks for (its ``HX-Target``), if it names one of the
    page's ``panels``; any other target gets the whole page."""
    if not _htmx(request):
        return None
    target = request.headers.get("HX-Target") or ""
    return target if target in panels else None


OVERVIEW_PANELS = ("panels", "list")
QUALITY_PANELS = ("panels",)
"""The element ids whose blocks htmx may ask for alone, per page (its template's blocks)."""


def _safe_next(target: str | None) -> str:
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


def _date(text: str | None) -> date | None:
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
    ledger = _ledger(request)
    kind: PeriodKind = period if period in PERIOD_KINDS else "month"
    today = ledger.clock.now().astimezone(ledger.tz).date()
    try:
        chosen = period_of(kind, today, _date(date_from), _date(date_to))
    except ValueError:
        kind, chosen = "month", period_of("month", today, None, None)
    return Filters(chosen, kind, contract or None, customer or None)


FiltersDep = Annotated[Filters, Depends(page_filters)]


def _plain(text: str, status: int) -> Response:
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


# --------------------------------------------------------------------------- routes

_log = logging.getLogger("ledger.dashboard")
_PAGE_ANSWERS = (LoginRequired, Forbidden, PageNotFound, HTTPException, RequestValidationError)
"""What the dashboard's own handlers (or FastAPI's) answer; anything else is a failure."""


_TOO_LARGE = "exceeded maximum size"
"""How Starlette's form parser says a field or part is over its limit (1 MB), as a 400."""


def _bad_request(request: Request, error: StarletteHTTPException) -> Response:
    """A request Starlette refused before the route ran (an oversized or malformed form):
    a page in the user's language, 413 for a form over the size limit, else its own 4xx."""
    status = error.status_code
    if status == 400 and _TOO_LARGE in str(error.detail):
        status = 413
    if not 400 <= status < 500:
        status = 400
    message = "too large" if status == 413 else "bad request"
    return render(request, "message.html", {"message": message}, status_code=status)


class _PageRoute(APIRoute):
    """A dashboard route: a failure answers with a page in the user's language (the API's
    handlers answer JSON, and say which database failed: not for a browser)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except _PAGE_ANSWERS:
                raise
            except StarletteHTTPException as e:  # Starlette's own, e.g. a form too large
                return _bad_request(request, e)
            except (PersistenceError, DBAPIError, LedgerNotInitialised):
                _log.warning("dashboard: database unavailable", exc_info=True)
                return render(request, "message.html", {"message": "unavailable"}, status_code=503)
            except Exception:
                _log.exception("dashboard: internal error")
                return render(request, "message.html", {"message": "failed"}, status_code=500)

        return page


router = APIRouter(include_in_schema=False, route_class=_PageRoute)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/login")
def login_form(request: Request, next: TextQ = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    if not _signer(request).csrf_ok(request.cookies.get(CSRF_COOKIE), csrf):
        return render(
            request, "login.html", {"next": _safe_next(next), "error": "csrf"}, status_code=403
        )
    users: Users = request.app.state.users
    user = users.authenticate(token)
    if user is None or user.name != name.strip():
        return render(
            request,
            "login.html",
            {"next": _safe_next(next), "error": "bad login"},
            status_code=401,
        )
    now = _ledger(request).clock.now()
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        _signer(request).session_cookie(user.name, user.token_key, now),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",  # a link from WeCom or a mail opens the page; no GET changes state
        secure=_secure(request),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    if not _signer(request).csrf_ok(request.cookies.get(CSRF_COOKIE), csrf):
        return _plain("CSRF token missing or wrong", 403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{language}")
def choose_language(request: Request, language: str, next: TextQ = None) -> Response:
    """Switch the pages' language (a preference cookie; changes nothing in the ledger)."""
    chosen = language if language in LANGS else "zh"
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    return response


def _overview(
    request: Request, user: User, filters: Filters, listed: dict[str, Any] | None = None
) -> Response:
    """The overview page, or the panel an htmx refresh asks for; ``listed``: the drill-down
    list to show filled in (a list link opened as a page of its own)."""
    scope = scope_of(user)
    ledger = _ledger(request)
    view = load_overview(ledger, filters, scope)
    panel = _panel(request, OVERVIEW_PANELS)
    contracts, customers = ([], []) if panel else filter_choices(ledger, scope)
    return render(
        request,
        "overview.html",
        {
            "user": user,
            "page": "overview",
            "view": view,
            "filters": filters,
            "kinds": PERIOD_KINDS,
            "contracts": contracts,
            "customers": customers,
            "charts": charts.overview_charts(view, lang(request)),
            "fq": filters_query(filters),
            **(listed or {}),
        },
        block=panel,
    )


@router.get("/dashboard")
def dashboard(request: Request, user: UserDep, filters: FiltersDep) -> Response:
    return _overview(request, user, filters)


@router.get("/dashboard/list")
def ticket_list(
    request: Request,
    user: UserDep,
    filters: FiltersDep,
    metric: TextQ = None,
    outcome: TextQ = None,
    engineer: TextQ = None,
    day: Annotated[str | None, Query(max_length=10)] = None,
    level: TextQ = None,
    age: TextQ = None,
) -> Response:
    """The tickets behind a tile or a chart element (the ``list`` panel)."""
    try:
        on = _date(day)
        if day and on is None:
            raise ValueError(f"day {day!r} is not a date like 2026-10-31")
        query = DrillQuery(
            metric=metric or None,
            outcome=outcome or None,
            engineer=engineer,
            contract_id=filters.contract,
            day=on,
            level=level or None,
            age=age or None,
        )
    except ValueError as e:
        return _plain(str(e), 422)
    listed = {"rows": load_drill(_ledger(request), filters, scope_of(user), query), "drill": query}
    if not _htmx(request):
        return _overview(request, user, filters, listed)
    context = {"user": user, "filters": filters, **listed}
    return render(request, "overview.html", context, block="list")


@router.get("/dashboard/quality")
def quality(request: Request, user: UserDep) -> Response:
    if scope_of(user).engineer is not None:
        raise Forbidden
    view = load_quality(_ledger(request))
    return render(
        request,
        "quality.html",
        {"user": user, "page": "quality", "view": view},
        block=_panel(request, QUALITY_PANELS),
    )


def _ticket_dossier(request: Request, user: User, ref: str) -> dict[str, Any]:
    """The ticket's dossier, without where the database is (an auditor's export names it;
    a page shown to engineers need not)."""
    try:
        dossier = build_dossier(_ledger(request), ref)
    except TicketNotFound:
        raise PageNotFound from None
    if not scope_of(user).allows(dossier["ticket"]["engineer"]):
        raise PageNotFound  # the same answer as a missing ticket: do not confirm it exists
    dossier.pop("database", None)
    return dossier


@router.get("/dashboard/tickets/{ref}")
def ticket_page(request: Request, user: UserDep, ref: str) -> Response:
    dossier = _ticket_dossier(request, user, ref)
    return render(request, "ticket.html", {"user": user, "page": "ticket", "dossier": dossier})


@router.get("/dashboard/tickets/{ref}/dossier.html")
def ticket_dossier(request: Request, user: UserDep, language: LangDep, ref: str) -> Response:
    dossier = _ticket_dossier(request, user, ref)
    number = quote(dossier["ticket"]["number"])
    page = HTMLResponse(
        render_html(dossier, language),
        headers={"Content-Disposition": f'inline; filename="dossier-{number}.html"'},
    )
    return secured(page, "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")


# --------------------------------------------------------------------------- wiring


def install(app: FastAPI, signer: Signer | None = None) -> None:
    """Add the dashboard to the API app: its routes, its static files and the handlers
    that turn a missing login into the login page."""
    app.state.signer = signer or Signer()
    app.mount(charts.STATIC_PREFIX.rstrip("/"), StaticFiles(directory=HERE / "static"), "static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if _htmx(request):  # back to the page, not to the panel it was refreshing
            page = urlsplit(request.headers.get("HX-Current-URL") or "/dashboard")
            target = _safe_next(page.path + (f"?{page.query}" if page.query else ""))
            login_url = f"/login?next={quote(target)}"
            return Response(status_code=401, headers={"HX-Redirect": login_url})
        query = request.url.query
        target = _safe_next(request.url.path + (f"?{query}" if query else ""))
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        return render(request, "message.html", {"message": "forbidden"}, status_code=403)

    @app.exception_handler(PageNotFound)
    async def not_found(request: Request, _: PageNotFound) -> Response:
        return render(request, "message.html", {"message": "not found"}, status_code=404)
