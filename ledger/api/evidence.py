"""The API's attachments: evidence files uploaded to a ticket, a return visit or a corrective
action (multipart), listed, and downloaded by the roles that may see the record.

An upload is a write: the actor and role are the authenticated user's, never the body's,
and the role matrix decides (``attach``, ``visit_attach``, ``action_attach``,
docs/roles.md); the bytes go into the evidence store before the event is recorded
(:class:`ledger.commands.evidence.EvidenceService`). Described in docs/api.md
("Attachments").
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, Response, UploadFile
from fastapi.security import HTTPAuthorizationCredentials

from ledger.api.problems import Problem
from ledger.api.routes import LedgerDep, _bearer, authenticated
from ledger.bootstrap import Ledger
from ledger.commands.application import NotFound
from ledger.commands.evidence import SERIES, EvidenceService
from ledger.commands.models import CommandError
from ledger.commands.users import API_ROLES, User
from ledger.domain.audit import DESK
from ledger.domain.errors import DomainError
from ledger.domain.evidence import Evidence, EvidenceKind
from ledger.domain.roles import Forbidden
from ledger.domain.ticket import Ticket
from ledger.domain.values import Role
from ledger.presenters.tickets import evidence_view
from ledger.storage.evidence import (
    EvidenceError,
    EvidenceMissing,
    EvidenceNotConfigured,
    EvidenceStore,
    TooLarge,
    UnsupportedMediaType,
    served_store,
)
from ledger.timeutil import show_error

READS_EVERY_RECORD = frozenset({*API_ROLES, *DESK, Role.ADMIN})
"""Who may see every record's files: the API's readers, the desk and the administrator. An
engineer sees the files of the tickets dispatched to them (and of their visits and the
corrective actions they work); a customer or any other role, none."""

router = APIRouter(tags=["attachments"])


def acting_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The user the bearer token belongs to, in any role: what the user may do is the role
    matrix's (uploads) or :func:`_may_see`'s (reads) to decide, not the token's. A
    workbench page's session with its CSRF header counts too (:func:`authenticated`)."""
    return authenticated(
        request, credentials, "missing bearer token: send `Authorization: Bearer <token>`"
    )


ActorDep = Annotated[User, Depends(acting_user)]


def evidence_store(request: Request, ledger: Ledger) -> EvidenceStore:
    """The store ``ledger serve`` was given (``app.state.evidence_settings``), else the
    environment's (``LEDGER_EVIDENCE``), else the default beside a SQLite file; opened once."""
    try:
        return served_store(request.app.state, ledger.location)
    except EvidenceNotConfigured as e:
        raise HTTPException(503, str(e)) from None


def _status(error: Exception) -> int:
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, NotFound | EvidenceMissing):
        return 404
    if isinstance(error, TooLarge):
        return 413
    if isinstance(error, UnsupportedMediaType):
        return 415
    if isinstance(error, CommandError):
        return 422
    if isinstance(error, DomainError):
        return 422  # the rules refuse it (a file attached twice, another's ticket), as a write's
    return 503  # the evidence store cannot be reached or written


def _refused(error: Exception, ledger: Ledger) -> Exception:
    """The problem to answer; a rule's refusal has the write API's kind, ``rule-violation``."""
    if isinstance(error, CommandError):
        text = "invalid command: " + "; ".join(error.problems)
    else:
        text = show_error(error, ledger.tz).strip().splitlines()[0]
    status = _status(error)
    if status == 422 and isinstance(error, DomainError):
        return Problem(422, text, kind="rule-violation")
    return HTTPException(status, text)


def _person(name: str) -> str:
    return " ".join(name.split()).casefold()


def _may_see(user: User, record: Any, ledger: Ledger) -> bool:
    if user.role in READS_EVERY_RECORD:
        return True
    if user.role is not Role.ENGINEER:
        return False
    if isinstance(record, Ticket):
        return record.engineer is not None and _person(record.engineer) == _person(user.name)
    ticket_number = getattr(record, "ticket_number", None)
    if ticket_number is not None:  # a visit auditing one of the engineer's tickets
        return _may_see(user, ledger.tickets.get(ticket_number), ledger)
    return hasattr(record, "stage")  # a corrective action: engineers work its boxes


def _visible(kind: str, number: str, user: User, ledger: Ledger) -> Any:
    """The record, or 404 / 403 (a record the user may not see is refused as such: its
    number is no secret, its files are)."""
    try:
        record = (
            ledger.tickets.get(number)
            if kind == "ticket"
            else ledger.quality.get(number, SERIES[kind])
        )
    except NotFound as e:
        raise HTTPException(404, str(e)) from None
    if not _may_see(user, record, ledger):
        raise HTTPException(403, f"a {user.role.value} may not see the files of {number}")
    return record


def _upload(
    kind: str,
    request: Request,
    ledger: Ledger,
    user: User,
    number: str,
    file: UploadFile,
    evidence_kind: EvidenceKind,
    occurred_at: str | None,
    response: Response,
) -> dict[str, Any]:
    store = evidence_store(request, ledger)
    data = file.file.read(store.max_bytes + 1)
    name = (file.filename or "").replace("\\", "/").rsplit("/", 1)[-1] or "upload"
    if request.headers.get("idempotency-key"):
        again = _attached_before(kind, number, data, user, ledger)
        if again is not None:  # a re-sent upload (the phone's queue): answered again
            response.status_code = 200
            response.headers["Idempotent-Replayed"] = "true"
            return {kind: number, "attachment": evidence_view(again, ledger.tz)}
    service = EvidenceService(store, ledger.tickets, ledger.quality)
    try:
        done = service.attach(
            kind,
            number,
            data,
            file_name=name,
            evidence_kind=evidence_kind.value,
            actor=user.name,
            role=user.role,
            at=occurred_at or None,
        )
    except (DomainError, NotFound, CommandError, EvidenceError) as e:
        raise _refused(e, ledger) from None
    record_number = done.record.number
    response.headers["Location"] = str(
        request.url_for(f"{kind}_attachment", **{kind: record_number}, sha256=done.evidence.sha256)
    )
    return {kind: record_number, "attachment": evidence_view(done.evidence, ledger.tz)}


def _attached_before(
    kind: str, number: str, data: bytes, user: User, ledger: Ledger
) -> Evidence | None:
    """The file these very bytes already are on the record, attached by ``user``: what a
    keyed upload sent again finds (a file is attached to a record once, by its hash)."""
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        record = _visible(kind, number, user, ledger)
    except HTTPException:
        return None
    return next(
        (e for e in record.evidence if e.sha256 == sha256 and e.attached_by == user.name), None
    )


def _download(
    kind: str, ledger: Ledger, request: Request, user: User, number: str, sha256: str
) -> Response:
    record = _visible(kind, number, user, ledger)
    found: Evidence | None = next((e for e in record.evidence if e.sha256 == sha256), None)
    if found is None:
        raise HTTPException(404, f"{record.number} has no file {sha256}")
    etag = f'"{sha256}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    try:
        data = evidence_store(request, ledger).get(sha256)
    except EvidenceMissing as e:
        raise HTTPException(404, str(e)) from None
    except EvidenceError as e:  # changed: never serve bytes the chain does not vouch for
        raise HTTPException(500, str(e)) from None
    return Response(
        data,
        media_type=found.media_type,
        headers={"ETag": etag, "Content-Disposition": content_disposition(found.file_name)},
    )


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII ``filename`` fallback and the real name as RFC 5987's
    ``filename*`` (UTF-8, percent-encoded), so a Chinese name survives."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


Upload = Annotated[UploadFile, File(description="The file (at most the store's size limit).")]
KindField = Annotated[EvidenceKind, Form(description="What the file is.")]
OccurredAt = Annotated[
    str | None,
    Form(description="When it happened (ISO 8601; naive = server zone). Default: now."),
]
_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or not a valid one."},
    403: {"description": "The user's role may not attach to this record."},
    404: {"description": "No such record."},
    413: {"description": "Over the evidence store's size limit."},
    415: {"description": "The bytes are of no allowed media type."},
    422: {
        "description": "A bad field (kind, occurred_at), or the rules refuse it (the same "
        "file again, another's ticket)."
    },
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No bearer token, or not a valid one."},
    403: {"description": "The user may not see this record's files."},
    404: {"description": "No such record, or no such file on it."},
}


_UPLOAD = {"status_code": 201, "responses": _UPLOAD_ERRORS}
_FILE = {"response_class": Response, "responses": {200: {"content": {"*/*": {}}}, **_READ_ERRORS}}


@router.post("/tickets/{ticket}/attachments", name="ticket_attach", **_UPLOAD)  # type: ignore[arg-type]
def attach_to_ticket(
    request: Request,
    response: Response,
    ledger: LedgerDep,
    user: ActorDep,
    ticket: str,
    file: Upload,
    kind: KindField,
    occurred_at: OccurredAt = None,
) -> dict[str, Any]:
    """Attach an evidence file (the signed service form, a signature, a photo, a fax) to a
    ticket, as the authenticated user in the user's role: multipart/form-data with `file`,
    `kind` and optionally `occurred_at`. The media type is read from the bytes."""
    return _upload("ticket", request, ledger, user, ticket, file, kind, occurred_at, response)


@router.get("/tickets/{ticket}/attachments", responses=_READ_ERRORS)
def ticket_attachments(ledger: LedgerDep, user: ActorDep, ticket: str) -> list[dict[str, Any]]:
    """The evidence files of a ticket, oldest first (metadata; the bytes: the next route)."""
    return _listing("ticket", ledger, user, ticket)


@router.get("/tickets/{ticket}/attachments/{sha256}", name="ticket_attachment", **_FILE)  # type: ignore[arg-type]
def ticket_attachment(
    request: Request, ledger: LedgerDep, user: ActorDep, ticket: str, sha256: str
) -> Response:
    """The bytes of a ticket's evidence file, re-hashed before they are sent: its recorded
    media type, its name in `Content-Disposition`, `ETag` = its SHA-256."""
    return _download("ticket", ledger, request, user, ticket, sha256)


@router.post("/visits/{visit}/attachments", name="visit_attach", **_UPLOAD)  # type: ignore[arg-type]
def attach_to_visit(
    request: Request,
    response: Response,
    ledger: LedgerDep,
    user: ActorDep,
    visit: str,
    file: Upload,
    kind: KindField,
    occurred_at: OccurredAt = None,
) -> dict[str, Any]:
    """Attach an evidence file (the signed visit card, a photo) to a return visit."""
    return _upload("visit", request, ledger, user, visit, file, kind, occurred_at, response)


@router.get("/visits/{visit}/attachments", responses=_READ_ERRORS)
def visit_attachments(ledger: LedgerDep, user: ActorDep, visit: str) -> list[dict[str, Any]]:
    """The evidence files of a return visit."""
    return _listing("visit", ledger, user, visit)


@router.get("/visits/{visit}/attachments/{sha256}", name="visit_attachment", **_FILE)  # type: ignore[arg-type]
def visit_attachment(
    request: Request, ledger: LedgerDep, user: ActorDep, visit: str, sha256: str
) -> Response:
    """The bytes of a return visit's evidence file."""
    return _download("visit", ledger, request, user, visit, sha256)


@router.post("/actions/{action}/attachments", name="action_attach", **_UPLOAD)  # type: ignore[arg-type]
def attach_to_action(
    request: Request,
    response: Response,
    ledger: LedgerDep,
    user: ActorDep,
    action: str,
    file: Upload,
    kind: KindField,
    occurred_at: OccurredAt = None,
) -> dict[str, Any]:
    """Attach an evidence file (a report, a photo of the fix) to a corrective action."""
    return _upload("action", request, ledger, user, action, file, kind, occurred_at, response)


@router.get("/actions/{action}/attachments", responses=_READ_ERRORS)
def action_attachments(ledger: LedgerDep, user: ActorDep, action: str) -> list[dict[str, Any]]:
    """The evidence files of a corrective action."""
    return _listing("action", ledger, user, action)


@router.get("/actions/{action}/attachments/{sha256}", name="action_attachment", **_FILE)  # type: ignore[arg-type]
def action_attachment(
    request: Request, ledger: LedgerDep, user: ActorDep, action: str, sha256: str
) -> Response:
    """The bytes of a corrective action's evidence file."""
    return _download("action", ledger, request, user, action, sha256)


def _listing(kind: str, ledger: Ledger, user: User, number: str) -> list[dict[str, Any]]:
    record = _visible(kind, number, user, ledger)
    return [evidence_view(e, ledger.tz) for e in record.evidence]
