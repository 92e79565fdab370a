"""``POST /commands``: a batch of commands in ``ledger import``'s JSON-lines format,
applied by :func:`~ledger.commands.importer.import_commands` as ``ledger import`` applies a
file (in batches, each line's idempotency key saved with its events), by the token's user,
answered with the same per-line report as ``ledger import --json``. docs/api.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query, Request

from ledger.api.bodies import JSON_LINES, MAX_BATCH, WHO, WRITE_ERRORS, KeyHeader, read_body
from ledger.api.problems import Problem, invalid
from ledger.api.routes import LedgerDep, UserDep
from ledger.bootstrap import Ledger
from ledger.commands.importer import import_commands
from ledger.commands.users import User

router = APIRouter()


@router.post(
    "/commands",
    tags=["commands"],
    responses={
        200: {"description": "The per-line report of `ledger import --json`."},
        **WRITE_ERRORS,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "description": "One command a line."}}
                for media in JSON_LINES
            },
        }
    },
)
async def commands_batch(
    request: Request,
    user: UserDep,
    ledger: LedgerDep,
    key: KeyHeader = None,
    strict: Annotated[bool, Query(description="Stop at the first rejected line.")] = False,
) -> dict[str, Any]:
    """A batch of commands in `ledger import`'s JSON-lines format, applied in order as
    `ledger import` does (each line its own idempotency key: its `command_id`, else its
    content), by the token's user: no line may name `actor` or `role`."""
    if key is not None:
        raise invalid(
            ["Idempotency-Key: a batch is idempotent line by line: give each line a command_id"]
        )
    body = await read_body(request, MAX_BATCH, JSON_LINES)
    return await anyio.to_thread.run_sync(lambda: run_batch(ledger, user, body, strict))


def run_batch(ledger: Ledger, user: User, body: bytes, strict: bool) -> dict[str, Any]:
    refused: list[tuple[str, str]] = []
    for number, raw in enumerate(body.splitlines(), start=1):
        try:
            line = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            continue  # the import rejects it, in its report
        if isinstance(line, dict):
            refused += [
                (f"lines[{number}].{name}", WHO) for name in ("actor", "role") if name in line
            ]
    if refused:
        detail = "; ".join(
            f"line {p.split('[')[1].split(']')[0]}: {p.split('.')[-1]}: {m}" for p, m in refused
        )
        raise Problem(422, "invalid batch: " + detail, kind="invalid-input", errors=refused)
    with tempfile.TemporaryDirectory(prefix="ledger-batch-") as folder:
        path = Path(folder) / "commands.jsonl"
        path.write_bytes(body)
        report = import_commands(
            ledger.tickets,
            ledger.quality,
            path,
            tz=ledger.tz,
            defaults={"actor": user.name, "role": user.role.value},
            strict=strict,
        )
    return report.as_dict()
