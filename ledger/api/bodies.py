"""What a write request brings besides its command: its body (one of the media types a
route takes, 415 otherwise; at most so many bytes, 413 otherwise, read no further), the
``Idempotency-Key`` and ``If-Match`` headers, and the errors every write documents.
Shared by :mod:`ledger.api.writes`, :mod:`ledger.api.batch` and :mod:`ledger.api.reference`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Header, Request

from ledger.api.problems import Problem, documented

MAX_BODY = 64 * 1024
"""The largest command body (bytes): a command is a few fields of at most 2000 characters."""
MAX_BATCH = 16 * 1024 * 1024
"""The largest ``POST /commands`` body (bytes)."""
JSON = "application/json"
JSON_LINES = ("application/jsonl", "application/x-ndjson")
WHO = "who acts is the authenticated user (the bearer token's): not a field of the body"


async def read_body(request: Request, limit: int, media_types: Sequence[str]) -> bytes:
    """The request's body, of one of ``media_types`` (415) and at most ``limit`` bytes
    (413), read no further than the limit."""
    given = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if given not in media_types:
        raise Problem(
            415,
            f"send the body as {' or '.join(media_types)} (got {given or 'no Content-Type'})",
            headers={"Accept-Post": ", ".join(media_types)},
        )
    too_large = Problem(413, f"the body is over {limit} bytes", kind="too-large")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Send the same key again (same body) to get the first answer again, "
        "nothing recorded twice; a different body under it is refused (422).",
    ),
]
IfMatchHeader = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The record\'s ETag (its version, `"6"`): 412 if it changed meanwhile.',
    ),
]

WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: documented("No bearer token, or not a valid one."),
    403: documented("The user's role may not issue this command (the role matrix)."),
    404: documented("No such record."),
    409: documented(
        "A concurrent change, or a request with the same Idempotency-Key still in flight."
    ),
    412: documented("If-Match no longer matches the record's version."),
    413: documented(f"The body is over {MAX_BODY} bytes."),
    415: documented("The body is not application/json."),
    422: documented(
        "Bad input (`errors`: each field's path and the CLI's message), a rule of the ledger "
        "refusing it, or an Idempotency-Key used for another request."
    ),
}
