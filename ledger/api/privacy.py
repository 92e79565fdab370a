"""The API's privacy routes (docs/privacy.md, docs/api.md "Privacy"): find a data subject,
export what the ledger holds about it (PIPL art. 45), erase it (art. 47), run the retention
sweep. Only the administrator: an export is the person's data itself, an erasure destroys
it (docs/roles.md: ``privacy_erase``, ``privacy_sweep``); the actor is the token's user.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ledger.api.evidence import ActorDep, evidence_store
from ledger.api.routes import LedgerDep
from ledger.bootstrap import Ledger
from ledger.commands.privacy import DEFAULT_KEEP_YEARS, Erasure
from ledger.commands.users import User
from ledger.domain.model import Text
from ledger.domain.values import Role
from ledger.storage.evidence import EvidenceStore

router = APIRouter(prefix="/privacy", tags=["privacy"])


def administrator(user: ActorDep) -> User:
    """Personal data is the administrator's to export and erase: 403 for every other role."""
    if user.role is not Role.ADMIN:
        raise HTTPException(
            403,
            f"personal data is exported and erased by role admin; {user.name} is {user.role.value}",
        )
    return user


AdminDep = Annotated[User, Depends(administrator)]


class EraseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Text


class SweepBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_years: int = Field(DEFAULT_KEEP_YEARS, ge=0, le=100)
    dry_run: bool = False


def erasure_view(erasure: Erasure) -> dict[str, Any]:
    return {
        "subject_id": erasure.subject_id,
        "recorded": erasure.event is not None,
        "key_destroyed": erasure.key_destroyed,
        "files_deleted": list(erasure.files_deleted),
    }


def _evidence(request: Request, ledger: Ledger) -> Callable[[], EvidenceStore] | None:
    try:
        store = evidence_store(request, ledger)
    except HTTPException:
        return None  # no store configured (PostgreSQL without a setting): no files to delete
    return lambda: store


@router.get("/subjects")
def subjects(
    ledger: LedgerDep,
    user: AdminDep,
    name: Annotated[str | None, Query(max_length=200)] = None,
    phone: Annotated[str | None, Query(max_length=40)] = None,
) -> list[dict[str, Any]]:
    """The data subject ids a name or a phone number names, and how often each appears."""
    if not (name or phone):
        raise HTTPException(422, "give name and/or phone")
    index = ledger.privacy.index()
    return [
        {
            "subject_id": s,
            "key": ledger.keys.state(s),
            "events": index.events(s),
        }
        for s in ledger.privacy.subject_ids(name=name, phone=phone)
    ]


@router.get("/subjects/{subject_id}")
def export(ledger: LedgerDep, user: AdminDep, subject_id: str) -> dict[str, Any]:
    """What the ledger holds about a data subject (PIPL art. 45), as ``ledger privacy export``."""
    return ledger.privacy.export(subject_id)


@router.post("/subjects/{subject_id}/erase")
def erase(
    request: Request, ledger: LedgerDep, user: AdminDep, subject_id: str, body: EraseBody
) -> dict[str, Any]:
    """Erase a data subject (idempotent: a second call records nothing)."""
    erasure = ledger.privacy.erase(
        subject_id,
        body.reason,
        actor=user.name,
        role=user.role,
        evidence=_evidence(request, ledger),
    )
    return erasure_view(erasure)


@router.post("/sweep")
def sweep(request: Request, ledger: LedgerDep, user: AdminDep, body: SweepBody) -> dict[str, Any]:
    """Erase the subjects whose retention period has ended."""
    result = ledger.privacy.sweep(
        ledger.clock.now(),
        body.keep_years,
        actor=user.name,
        role=user.role,
        evidence=_evidence(request, ledger),
        dry_run=body.dry_run,
    )
    return {
        "keep_years": result.keep_years,
        "dry_run": body.dry_run,
        "erased": [erasure_view(e) for e in result.erased],
        "kept": result.kept,
    }
