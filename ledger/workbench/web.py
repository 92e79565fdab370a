"""The workbench's routes (``/workbench``), mounted by :mod:`ledger.web` after the
dashboard (whose login, language switch and static htmx it uses). Pages are server-rendered
Jinja2 (:mod:`ledger.workbench.pages`); forms write through :mod:`ledger.workbench.submit`,
page JavaScript through the write API itself (a session cookie with the ``X-CSRF-Token``
header: :func:`ledger.api.routes.authenticated`).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from ledger.dashboard.web import PageRoute
from ledger.workbench.pages import HERE, STATIC_PREFIX, WorkbenchUserDep, render

router = APIRouter(prefix="/workbench", include_in_schema=False, route_class=PageRoute)


@router.get("")
def home(request: Request, user: WorkbenchUserDep) -> Response:
    """The workbench's start: the pages this user's role may open."""
    return render(request, "workbench/home.html", {"user": user, "page": "home"})


def install(app: FastAPI) -> None:
    """Add the workbench to the app (after the dashboard: its login handles ours)."""
    app.mount(STATIC_PREFIX.rstrip("/"), StaticFiles(directory=HERE / "static"), "workbench")
    app.include_router(router)
    from ledger.workbench import phone  # the engineer's phone pages (field)

    app.include_router(phone.router)
