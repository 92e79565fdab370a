"""Personal information (个人信息) in the log and its erasure (PIPL art. 47): which event
fields name a person, whose they are, and the ``SubjectErased`` fact.

A field annotated ``Personal(...)`` holds personal information of a *data subject* (a
customer's contact, a signer, the supplier's contact person). The storage mapper stores
such a field encrypted under that subject's own key (``ledger/storage/privacy.py``);
erasing the subject destroys the key, so the field reads as :data:`ERASED` everywhere
while the event, its bytes and the hash chain stay exactly as they were.

A subject is identified by an *identity* worked out from the event alone: the phone number
for a contact (``phone:13800138001``: name and phone of one contact share one subject),
the name for a person named without a phone (``name:张三``: a signer). The store turns an
identity into an opaque subject id (a keyed hash; docs/privacy.md), which is what the log
and ``SubjectErased`` name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import singledispatch
from typing import Any, get_args, get_origin
from uuid import UUID, uuid5

from pydantic import BaseModel, Field

from ledger.domain.evidence import EvidenceKind
from ledger.domain.model import (
    Aggregate,
    DomainEvent,
    ShortText,
    Stamp,
    Text,
    evolve,
    fold,
    recorded_events,
)
from ledger.domain.numbering import NAMESPACE

ERASED = "[已删除]"
"""What an erased personal field reads as, in the data (JSON, feed, exports, read models)."""
ERASED_EN = "[erased]"
"""The same, in an English human-facing view."""

PERSONAL_EVIDENCE_KINDS = frozenset(
    {EvidenceKind.SIGNATURE, EvidenceKind.SIGNED_FORM, EvidenceKind.FAX, EvidenceKind.PHOTO}
)
"""Evidence files that may show a person (a signature, a signed form or fax, a photo): they
are deleted from the file store when a subject of their ticket or visit is erased."""

SUBJECT_ID = re.compile(r"^s-[0-9a-f]{24}$")
"""How a subject id looks: ``s-`` and 24 hex digits (96 bits of a keyed hash)."""


@dataclass(frozen=True)
class Personal:
    """Field metadata: this field is personal information. ``by``: the sibling field whose
    value identifies the subject (``"phone"``: the contact's phone number); ``None``: the
    field's own value does, as a name."""

    by: str | None = None

    def identity(self, value: str, siblings: dict[str, Any]) -> str:
        if self.by is None:
            return "name:" + normalise(value)
        return f"{self.by}:" + normalise(str(siblings[self.by]))


def normalise(value: str) -> str:
    """An identity's text: no spaces, dashes or brackets (``138-0013 8001`` = ``13800138001``)."""
    return re.sub(r"[\s\-()]", "", value).casefold()


@dataclass(frozen=True)
class PersonalField:
    """Where a personal field sits in an event's JSON: ``path`` (``("contact", "phone")``)
    and how its subject is identified."""

    path: tuple[str, ...]
    personal: Personal

    @property
    def name(self) -> str:
        return ".".join(self.path)


_FIELDS: dict[type[Any], tuple[PersonalField, ...]] = {}


def personal_fields(cls: type[Any]) -> tuple[PersonalField, ...]:
    """The personal fields of a model (nested models included), read from its annotations
    once per class."""
    known = _FIELDS.get(cls)
    if known is None:
        known = _FIELDS[cls] = _find_fields(cls)
    return known


def _find_fields(cls: type[BaseModel]) -> tuple[PersonalField, ...]:
    found: list[PersonalField] = []
    for name, info in cls.model_fields.items():
        marks = [m for m in info.metadata if isinstance(m, Personal)]
        if marks:
            found.append(PersonalField((name,), marks[0]))
            continue
        for nested in _models(info.annotation):
            found.extend(
                PersonalField((name, *f.path), f.personal) for f in personal_fields(nested)
            )
    return tuple(found)


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    elif get_origin(annotation) is not None:
        for arg in get_args(annotation):
            yield from _models(arg)


def personal_events() -> tuple[type[DomainEvent], ...]:
    """Every recorded event class with a personal field."""
    return tuple(c for c in recorded_events(DomainEvent) if personal_fields(c))


# --------------------------------------------------------------------------- the subject


def subject_aggregate_id(subject_id: str) -> UUID:
    """The id of a subject's record in the log (its ``SubjectErased``): no lookup table."""
    return uuid5(NAMESPACE, "privacy-subject:" + subject_id)


class SubjectEvent(DomainEvent):
    abstract = True


class SubjectErased(SubjectEvent):
    """A data subject's personal information was erased (PIPL art. 47): its key destroyed,
    its evidence files deleted. Names no personal information: the subject's opaque id,
    why, and the hashes of the files deleted (so ``ledger verify`` knows them erased)."""

    subject_id: str = Field(pattern=SUBJECT_ID.pattern)
    reason: Text
    basis: ShortText
    """``request`` (the person asked, or another ground of art. 47) or ``retention``."""
    evidence_erased: tuple[str, ...] = ()


class PrivacySubject(Aggregate):
    subject_id: str
    erased_at: Any = None
    reason: str = ""


@singledispatch
def mutate(event: DomainEvent, subject: PrivacySubject | None) -> PrivacySubject:
    raise NotImplementedError(type(event).__name__)  # pragma: no cover


@mutate.register
def _(event: SubjectErased, subject: PrivacySubject | None) -> PrivacySubject:
    if subject is None:
        return PrivacySubject.started_by(event, erased_at=event.occurred_at)
    return evolve(subject, event, erased_at=event.occurred_at, reason=event.reason)


def project_subject(state: PrivacySubject | None, events: object) -> PrivacySubject | None:
    return fold(mutate, state, events, SubjectEvent)


def decide_erase(
    subject: PrivacySubject | None,
    stamp: Stamp,
    subject_id: str,
    reason: str,
    basis: str,
    evidence_erased: tuple[str, ...] = (),
) -> SubjectErased | None:
    """The erasure of a subject, or ``None`` when it is already erased (erasing is
    idempotent: the first erasure is the fact)."""
    if subject is not None:
        return None
    return SubjectErased(
        **stamp.envelope(subject_aggregate_id(subject_id), 1),
        subject_id=subject_id,
        reason=reason,
        basis=basis,
        evidence_erased=evidence_erased,
    )
