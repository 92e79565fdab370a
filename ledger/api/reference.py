"""Reference data over HTTP: ``POST /contracts`` (``ledger contract load``) and ``POST
/calendar`` (``ledger calendar load``), the administrator's (the role matrix's
``contract_load`` and ``calendar_load``). The body is the file the CLI reads: TOML
(``application/toml``) or the same document as JSON; every problem is the CLI's, with its
key path, and nothing is recorded. Loading what is already loaded records nothing (the
answer says ``unchanged``), so these need no ``Idempotency-Key``. docs/api.md.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from ledger.api.bodies import MAX_BODY, WRITE_ERRORS, read_body
from ledger.api.problems import invalid
from ledger.api.routes import LedgerDep, UserDep
from ledger.commands.contracts import parse_contract, parse_holiday_table
from ledger.domain.errors import Unchanged
from ledger.presenters.contracts import loaded_view, year_table_view
from ledger.timeutil import parse_time

TOML = "application/toml"
MEDIA = (TOML, "application/json")

router = APIRouter()


def _document(body: bytes, media: str) -> dict[str, Any]:
    """The body as the dict a TOML file reads as; 422 with the CLI's words otherwise."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise invalid([f"not valid UTF-8 ({e.reason} at byte {e.start})"]) from None
    if media == TOML:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise invalid([f"not valid TOML: {e}"]) from None
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise invalid([f"not valid JSON ({e})"]) from None
    if not isinstance(data, dict):
        raise invalid(["the document must be a JSON object"])
    return data


def _media(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            TOML: {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


@router.post(
    "/contracts",
    tags=["reference data"],
    responses={200: {"description": "As `ledger contract load --json`."}, **WRITE_ERRORS},
    openapi_extra=_BODY,
)
async def load_contract(
    request: Request,
    user: UserDep,
    ledger: LedgerDep,
    effective: Annotated[
        str | None,
        Query(
            min_length=1,
            description="When a revision takes effect (ISO 8601; naive = server zone). "
            "Default: now.",
        ),
    ] = None,
    note: Annotated[
        str | None, Query(min_length=1, max_length=2000, description="Why it is revised.")
    ] = None,
) -> JSONResponse:
    """Register or revise a contract from its file (docs/contracts.md), as `ledger
    contract load`: `registered` (201), `revised` or `unchanged`."""
    body = await read_body(request, MAX_BODY, MEDIA)
    document = parse_contract(_document(body, _media(request)))
    effective_from: datetime | None = None
    if effective is not None:
        try:
            effective_from = parse_time(effective, ledger.tz)
        except ValueError as e:
            raise invalid([f"effective: {e}"]) from None

    def load() -> dict[str, Any]:
        (loaded,) = ledger.contracts.load_many(
            [document],
            actor=user.name,
            role=user.role,
            effective_from=effective_from,
            note=note,
        )
        return loaded_view(loaded, ledger.tz)

    view = await anyio.to_thread.run_sync(load)
    return JSONResponse(view, status_code=201 if view["outcome"] == "registered" else 200)


@router.post(
    "/calendar",
    tags=["reference data"],
    responses={200: {"description": "As `ledger calendar load --json`."}, **WRITE_ERRORS},
    openapi_extra=_BODY,
)
async def load_calendar(request: Request, user: UserDep, ledger: LedgerDep) -> dict[str, Any]:
    """Load a year's holiday notice (docs/contracts.md, calendar files), as `ledger
    calendar load`: it replaces the bundled table of that year, or one loaded before."""
    body = await read_body(request, MAX_BODY, MEDIA)
    table = parse_holiday_table(_document(body, _media(request)))

    def load() -> dict[str, Any]:
        before = ledger.contracts.find_holiday_table(table.year)
        try:
            ledger.contracts.load_holidays(table, actor=user.name, role=user.role)
            outcome = "loaded"
        except Unchanged:
            outcome = "unchanged"
        view = year_table_view(ledger.contracts.holiday_table(table.year))
        replaced = None
        if outcome == "loaded" and before is not None:
            replaced = "loaded" if before.loaded else "bundled"
        return {**view, "outcome": outcome, "replaced": replaced}

    return await anyio.to_thread.run_sync(load)
