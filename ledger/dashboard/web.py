"""The supervisor dashboard's routes, served by ``ledger serve`` beside the API
(:mod:`ledger.web` mounts both).

Server-rendered: Jinja2 templates, one per page, whose panels are blocks that
``jinja2-fragments`` renders alone for htmx (a panel refresh or a drill-down asks for its
block, not for the page). Browsers log in with a user name and the token ``ledger user
add`` issued (:mod:`ledger.sessions`); auditors and supervisors see everything,
engineers their own tickets. What every page needs is in :mod:`ledger.dashboard.pages`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.commands.application import TicketNotFound
from ledger.commands.users import User, Users
from ledger.dashboard import charts
from ledger.dashboard.notifications import READERS as NOTIFICATION_READERS
from ledger.dashboard.notifications import load_notifications
from ledger.dashboard.overview import DrillQuery
from ledger.dashboard.pages import (
    HERE,
    OVERVIEW_PANELS,
    QUALITY_PANELS,
    FiltersDep,
    Forbidden,
    LangDep,
    LoginRequired,
    PageNotFound,
    TextQ,
    UserDep,
    filters_query,
    is_htmx,
    is_secure,
    lang,
    ledger_of,
    panel_of,
    parse_day,
    plain,
    render,
    safe_next,
    scope_of,
    secured,
    signer_of,
)
from ledger.dashboard.quality import load_quality
from ledger.dashboard.queries import (
    PERIOD_KINDS,
    Filters,
    filter_choices,
    load_drill,
    load_overview,
)
from ledger.dashboard.words import LANGS
from ledger.reports.dossier import build_dossier
from ledger.reports.dossier_render import render_html
from ledger.sessions import (
    CSRF_COOKIE,
    LANG_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Signer,
)
from ledger.storage.evidence import EvidenceNotConfigured, served_store
from ledger.storage.tables import LedgerNotInitialised

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


PageRoute = _PageRoute
"""For another adapter's pages (the workbench's): failures answered as pages too."""
router = APIRouter(include_in_schema=False, route_class=_PageRoute)


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse("/dashboard", status_code=303)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/login")
def login_form(request: Request, next: TextQ = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=200)],
    token: Annotated[str, Form(max_length=200)],
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    if not signer_of(request).csrf_ok(request.cookies.get(CSRF_COOKIE), csrf):
        return render(
            request, "login.html", {"next": safe_next(next), "error": "csrf"}, status_code=403
        )
    users: Users = request.app.state.users
    user = users.authenticate(token)
    if user is None or user.name != name.strip():
        return render(
            request,
            "login.html",
            {"next": safe_next(next), "error": "bad login"},
            status_code=401,
        )
    now = ledger_of(request).clock.now()
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signer_of(request).session_cookie(user.name, user.token_key, now),
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",  # a link from WeCom or a mail opens the page; no GET changes state
        secure=is_secure(request),
    )
    return response


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    if not signer_of(request).csrf_ok(request.cookies.get(CSRF_COOKIE), csrf):
        return plain("CSRF token missing or wrong", 403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/lang/{language}")
def choose_language(request: Request, language: str, next: TextQ = None) -> Response:
    """Switch the pages' language (a preference cookie; changes nothing in the ledger)."""
    chosen = language if language in LANGS else "zh"
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        LANG_COOKIE,
        chosen,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=is_secure(request),
    )
    return response


def _overview(
    request: Request, user: User, filters: Filters, listed: dict[str, Any] | None = None
) -> Response:
    """The overview page, or the panel an htmx refresh asks for; ``listed``: the drill-down
    list to show filled in (a list link opened as a page of its own)."""
    scope = scope_of(user)
    ledger = ledger_of(request)
    view = load_overview(ledger, filters, scope)
    panel = panel_of(request, OVERVIEW_PANELS)
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
        on = parse_day(day)
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
        return plain(str(e), 422)
    listed = {
        "rows": load_drill(ledger_of(request), filters, scope_of(user), query),
        "drill": query,
    }
    if not is_htmx(request):
        return _overview(request, user, filters, listed)
    context = {"user": user, "filters": filters, **listed}
    return render(request, "overview.html", context, block="list")


@router.get("/dashboard/quality")
def quality(request: Request, user: UserDep) -> Response:
    if scope_of(user).engineer is not None:
        raise Forbidden
    view = load_quality(ledger_of(request))
    return render(
        request,
        "quality.html",
        {"user": user, "page": "quality", "view": view},
        block=panel_of(request, QUALITY_PANELS),
    )


@router.get("/dashboard/notifications")
def notifications(request: Request, user: UserDep) -> Response:
    """Deliveries and failures of the notifier (managers and admins)."""
    if user.role not in NOTIFICATION_READERS:
        raise Forbidden
    view = load_notifications(ledger_of(request).engine)
    return render(
        request,
        "notifications.html",
        {"user": user, "page": "notifications", "view": view},
        block="panels" if is_htmx(request) else None,
    )


def _ticket_dossier(
    request: Request, user: User, ref: str, *, images: bool = False
) -> dict[str, Any]:
    """The ticket's dossier, without where the database is (an auditor's export names it;
    a page shown to engineers need not); ``images``: its files re-hashed and its pictures
    (the customer's signature, photos) drawn, when the evidence store is at hand."""
    ledger = ledger_of(request)
    store = None
    if images:
        try:
            store = served_store(request.app.state, ledger.location)
        except EvidenceNotConfigured:
            store = None
    try:
        dossier = build_dossier(ledger, ref, evidence=store, images=store is not None)
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
    dossier = _ticket_dossier(request, user, ref, images=True)
    number = quote(dossier["ticket"]["number"])
    page = HTMLResponse(
        render_html(dossier, language),
        headers={"Content-Disposition": f'inline; filename="dossier-{number}.html"'},
    )
    # its pictures are data: URIs of bytes re-hashed against the chain
    csp = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
    return secured(page, csp)


# --------------------------------------------------------------------------- wiring


def install(app: FastAPI, signer: Signer | None = None) -> None:
    """Add the dashboard to the API app: its routes, its static files and the handlers
    that turn a missing login into the login page."""
    app.state.signer = signer or Signer()
    app.mount(charts.STATIC_PREFIX.rstrip("/"), StaticFiles(directory=HERE / "static"), "static")
    app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _: LoginRequired) -> Response:
        if is_htmx(request):  # back to the page, not to the panel it was refreshing
            page = urlsplit(request.headers.get("HX-Current-URL") or "/dashboard")
            target = safe_next(page.path + (f"?{page.query}" if page.query else ""))
            login_url = f"/login?next={quote(target)}"
            return Response(status_code=401, headers={"HX-Redirect": login_url})
        query = request.url.query
        target = safe_next(request.url.path + (f"?{query}" if query else ""))
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, _: Forbidden) -> Response:
        return render(request, "message.html", {"message": "forbidden"}, status_code=403)

    @app.exception_handler(PageNotFound)
    async def not_found(request: Request, _: PageNotFound) -> Response:
        return render(request, "message.html", {"message": "not found"}, status_code=404)
