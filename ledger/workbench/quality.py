"""What the quality / 总工办 pages show and accept, decided purely: the satisfaction scale the
return-visit card's live total reads, the fields of each quality form, the forms a record
offers now, and a form's typed values as the command's fields.

The rules stay in the domain and the registry. The scale is *computed* from
:mod:`ledger.domain.satisfaction` (each band's range of score sums, found by asking
``satisfaction_band`` about every sum), so the page's script holds no copy of the bands and
cannot drift from them; the server's answer after a post is the authority. Which forms a
record offers follows its state (a visit is scored once conducted) and the role matrix
(:func:`ledger.workbench.pages.may`): a form the user's role may not submit is never shown,
and the write path refuses it if posted anyway.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from annotated_types import Le

from ledger.domain.complaint import Complaint, ComplaintCategory, ComplaintStatus, ComplaintSubject
from ledger.domain.corrective_action import ActionStage, CorrectiveAction, IssueSource
from ledger.domain.return_visit import ReturnVisit, VisitForm, VisitStatus
from ledger.domain.satisfaction import (
    SatisfactionBand,
    SatisfactionScores,
    satisfaction_band,
    satisfaction_total,
)
from ledger.domain.values import Channel, VisitPurpose

# --------------------------------------------------------------------------- the scale

SCORE_FIELDS: tuple[str, ...] = tuple(SatisfactionScores.model_fields)
"""A B C D, in the card's order (the survey's own fields)."""


def _score_max() -> int:
    meta = SatisfactionScores.model_fields[SCORE_FIELDS[0]].metadata
    highest: int = next(m.le for m in meta if isinstance(m, Le))  # type: ignore[assignment]
    return highest


SCORE_MAX = _score_max()


@dataclass(frozen=True)
class BandRange:
    """One band, as the sums of the four scores it covers (inclusive)."""

    band: SatisfactionBand
    lowest_sum: int
    highest_sum: int


@dataclass(frozen=True)
class SatisfactionScale:
    """What the card's script needs to show the live total and band: how many scores, the
    highest score, and each band's range of sums, all taken from the domain."""

    count: int
    score_max: int
    bands: tuple[BandRange, ...]

    def band_of_sum(self, total_sum: int) -> SatisfactionBand:
        return next(b.band for b in self.bands if b.lowest_sum <= total_sum <= b.highest_sum)

    def as_data(self, lang: str) -> list[dict[str, Any]]:
        """The bands as the page embeds them (``data-bands``, JSON)."""
        return [
            {
                "band": b.band.value,
                "label": b.band.zh if lang == "zh" else b.band.en,
                "low": b.lowest_sum,
                "high": b.highest_sum,
            }
            for b in self.bands
        ]


def _split(total_sum: int, count: int, score_max: int) -> list[int]:
    """Scores (each 0..score_max) adding up to ``total_sum``."""
    scores = []
    left = total_sum
    for _ in range(count):
        scores.append(min(left, score_max))
        left -= scores[-1]
    return scores


def satisfaction_scale() -> SatisfactionScale:
    """The scale as the domain judges it: every possible sum asked of
    ``satisfaction_total`` and ``satisfaction_band``, runs of one band merged."""
    count = len(SCORE_FIELDS)
    ranges: list[BandRange] = []
    for total_sum in range(count * SCORE_MAX + 1):
        band = satisfaction_band(satisfaction_total(*_split(total_sum, count, SCORE_MAX)))
        if ranges and ranges[-1].band is band:
            ranges[-1] = BandRange(band, ranges[-1].lowest_sum, total_sum)
        else:
            ranges.append(BandRange(band, total_sum, total_sum))
    return SatisfactionScale(count, SCORE_MAX, tuple(ranges))


def live_total(scale: SatisfactionScale, scores: Sequence[int]) -> tuple[Decimal, SatisfactionBand]:
    """What the script computes from the scale (the Python twin the tests compare with
    the domain): the total (sum ÷ count) and the band of the sum."""
    total_sum = sum(scores)
    return Decimal(total_sum) / scale.count, scale.band_of_sum(total_sum)


# --------------------------------------------------------------------------- forms

FieldKind = Literal["text", "textarea", "score", "select", "radio", "date", "datetime", "links"]


@dataclass(frozen=True)
class FieldSpec:
    """One field of a form: the command model's field ``name``, how it is typed."""

    name: str
    kind: FieldKind = "text"
    choices: tuple[str, ...] = ()
    required: bool = False


def _choices(values: type[StrEnum]) -> tuple[str, ...]:
    return tuple(v.value for v in values)


_YES_NO = ("true", "false")
_OPINION = (FieldSpec("opinion", "textarea", required=True),)

FORMS: Mapping[str, tuple[FieldSpec, ...]] = {
    "visit_schedule": (
        FieldSpec("ticket"),
        FieldSpec("contract"),
        FieldSpec("form", "select", _choices(VisitForm)),
        FieldSpec("purpose", "select", _choices(VisitPurpose)),
        FieldSpec("planned_at", "datetime"),
        FieldSpec("visitor", required=True),
    ),
    "visit_conduct": (
        FieldSpec("content", "textarea", required=True),
        FieldSpec("customer_opinion", "textarea"),
    ),
    "visit_score": (
        *(FieldSpec(name, "score", required=True) for name in SCORE_FIELDS),
        FieldSpec("correction_reason", "textarea"),
    ),
    "visit_sign": (FieldSpec("signer", required=True),),
    "visit_review": _OPINION,
    "visit_chief_review": _OPINION,
    "visit_audit": (
        FieldSpec("verdict", "radio", ("pass", "fail"), required=True),
        FieldSpec("reason", "textarea"),
        FieldSpec("note", "textarea"),
    ),
    "visit_cancel": (FieldSpec("reason", "textarea", required=True),),
    "action_raise": (
        FieldSpec("source", "select", _choices(IssueSource), required=True),
        FieldSpec("links", "links"),
        FieldSpec("department", required=True),
        FieldSpec("content", "textarea", required=True),
    ),
    "action_analyse": (FieldSpec("cause", "textarea", required=True),),
    "action_plan": (
        FieldSpec("corrective", "textarea", required=True),
        FieldSpec("preventive", "textarea", required=True),
        FieldSpec("responsible", required=True),
        FieldSpec("due_on", "date", required=True),
    ),
    "action_implement": (FieldSpec("description", "textarea", required=True),),
    "action_result": (FieldSpec("result", "textarea", required=True),),
    "action_verify": (
        FieldSpec("effective", "radio", _YES_NO, required=True),
        FieldSpec("comment", "textarea", required=True),
    ),
    "action_close": (FieldSpec("note", "textarea"),),
    "complaint_receive": (
        FieldSpec("channel", "select", _choices(Channel)),
        FieldSpec("about", "select", _choices(ComplaintSubject), required=True),
        FieldSpec("reference", required=True),
        FieldSpec("customer"),
        FieldSpec("contract"),
        FieldSpec("category", "select", _choices(ComplaintCategory), required=True),
        FieldSpec("content", "textarea", required=True),
    ),
    "complaint_analyse": (
        FieldSpec("cause", "textarea", required=True),
        FieldSpec("department", required=True),
        FieldSpec("ours", "radio", _YES_NO, required=True),
    ),
    "complaint_resolve": (
        FieldSpec("handling", "textarea", required=True),
        FieldSpec("result", "textarea", required=True),
    ),
    "complaint_close": (FieldSpec("note", "textarea"),),
}
"""Every quality form: the registry command it submits → its fields, in the card's order
(``tests/unit/test_workbench_quality.py`` checks each names a field of the command's model)."""

_LINK_SPLIT = re.compile(r"[\s,，、;；]+")


def command_fields(command: str, typed: Mapping[str, str]) -> dict[str, Any]:
    """A form's typed values as the command's fields: blank left out (the model says what
    is required, in its own words), scores as whole numbers when they are, yes/no as
    booleans, links split; anything else as typed, for the model to judge."""
    fields: dict[str, Any] = {}
    for spec in FORMS[command]:
        raw = typed.get(spec.name)
        text = (raw or "").strip()
        if not text:
            continue
        if spec.kind == "score" and re.fullmatch(r"-?\d{1,4}", text):
            fields[spec.name] = int(text)
        elif spec.kind == "radio" and spec.choices == _YES_NO:
            fields[spec.name] = text == "true"
        elif spec.kind == "links":
            fields[spec.name] = [part for part in _LINK_SPLIT.split(text) if part]
        else:
            fields[spec.name] = text
    return fields


# --------------------------------------------------------------------------- what a record offers


def visit_steps(visit: ReturnVisit) -> list[str]:
    """The forms a visit's card offers in its state (the roles are filtered apart)."""
    if visit.status is VisitStatus.CANCELLED:
        return []
    if visit.status is VisitStatus.SCHEDULED:
        return ["visit_conduct", "visit_cancel"]
    steps = ["visit_score"]  # scoring again is a correction, with a reason
    if visit.signer is None:
        steps.append("visit_sign")
    if visit.manager_review is None:
        steps.append("visit_review")
    elif visit.chief_engineer_review is None:
        steps.append("visit_chief_review")
    if visit.is_audit and visit.audit is None:
        steps.append("visit_audit")
    return steps


ACTION_STEP: Mapping[ActionStage, str] = {
    ActionStage.RAISED: "action_analyse",
    ActionStage.ANALYSED: "action_plan",
    ActionStage.PLANNED: "action_implement",
    ActionStage.IMPLEMENTED: "action_result",
    ActionStage.RESULT_RECORDED: "action_verify",
    ActionStage.VERIFIED: "action_close",
    ActionStage.NOT_EFFECTIVE: "action_plan",
}
"""The card's one next box per stage (``corrective_action.NEXT_STEP`` in words)."""

ACTION_BOXES: tuple[str, ...] = (
    "action_raise",
    "action_analyse",
    "action_plan",
    "action_implement",
    "action_result",
    "action_verify",
    "action_close",
)
"""The card's seven boxes, in order."""


def action_steps(action: CorrectiveAction) -> list[str]:
    step = ACTION_STEP.get(action.stage)
    return [step] if step else []


COMPLAINT_STEP: Mapping[ComplaintStatus, str] = {
    ComplaintStatus.RECEIVED: "complaint_analyse",
    ComplaintStatus.ANALYSED: "complaint_resolve",
    ComplaintStatus.RESOLVED: "complaint_close",
}


def complaint_steps(complaint: Complaint) -> list[str]:
    step = COMPLAINT_STEP.get(complaint.status)
    return [step] if step else []


# --------------------------------------------------------------------------- a form on the page


@dataclass(frozen=True)
class FieldView:
    spec: FieldSpec
    value: str
    error: str | None


@dataclass(frozen=True)
class FormView:
    """One form as the template draws it: the command, where it posts, the key that makes
    a double submit record once, each field with what was typed and its error."""

    command: str
    action: str
    idempotency_key: str
    fields: tuple[FieldView, ...]
    errors: tuple[str, ...] = ()
    """Problems not tied to one field (a rule of the record's state, a conflict)."""

    def field(self, name: str) -> FieldView:
        return next(f for f in self.fields if f.spec.name == name)


@dataclass(frozen=True)
class Rejected:
    """A submitted form the write path refused: what was typed, and why, by field."""

    command: str
    typed: Mapping[str, str]
    field_errors: Mapping[str, str]
    errors: tuple[str, ...]
    idempotency_key: str


def form_view(
    command: str,
    action: str,
    new_key: Callable[[], str],
    *,
    defaults: Mapping[str, str] | None = None,
    rejected: Rejected | None = None,
) -> FormView:
    """A form fresh (``defaults``, a new key) or as refused (what was typed, its errors
    by field, and the same key: the record was not written, so the same submit may come
    again)."""
    typed: Mapping[str, str] = defaults or {}
    field_errors: Mapping[str, str] = {}
    errors: tuple[str, ...] = ()
    key = None
    if rejected is not None and rejected.command == command:
        typed, field_errors, errors = rejected.typed, rejected.field_errors, rejected.errors
        key = rejected.idempotency_key
    names = {spec.name for spec in FORMS[command]}
    loose = tuple(m for name, m in field_errors.items() if _top(name) not in names)
    views = tuple(
        FieldView(spec, typed.get(spec.name, ""), _error_for(spec.name, field_errors))
        for spec in FORMS[command]
    )
    return FormView(command, action, key or new_key(), views, errors + loose)


def _top(path: str) -> str:
    return path.split(".", 1)[0]


def _error_for(name: str, errors: Mapping[str, str]) -> str | None:
    found = [message for path, message in errors.items() if _top(path) == name]
    return "；".join(found) if found else None


@dataclass(frozen=True)
class CardView:
    """A record's card: the record, the forms the user may fill in now, and the boxes."""

    record: Any
    forms: tuple[FormView, ...] = ()
    shown_steps: tuple[str, ...] = ()
    hidden_steps: tuple[str, ...] = field(default=())
    """Steps the record's state offers but the user's role may not take (not drawn)."""


def card_forms(
    steps: Sequence[str],
    may: Callable[[str], bool],
    action_of: Callable[[str], str],
    new_key: Callable[[], str],
    rejected: Rejected | None = None,
) -> tuple[tuple[FormView, ...], tuple[str, ...]]:
    """The forms of ``steps`` the user may submit, and the steps left out."""
    forms = tuple(
        form_view(step, action_of(step), new_key, rejected=rejected) for step in steps if may(step)
    )
    hidden = tuple(step for step in steps if not may(step))
    return forms, hidden
