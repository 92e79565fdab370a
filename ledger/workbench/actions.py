"""A ticket page's buttons, derived from the registry: every ticket command (but the
report, the uploads and the notes, which have forms of their own) is a possible button, its
form's fields are its command model's fields, and whether it is shown is asked of the two
rules that decide the write itself — the role matrix (:func:`authorise`) and the ticket's
own decider, given the command with sample fields against the ticket as it stands (decided,
never saved). No table here says which state allows what: the domain does.

An enum field's options are those with which the decider accepts the command now (an
escalation offers only the rungs above the ticket's; a reclassification every severity and
category, one of them changed); a field the model leaves optional is asked for under
"more" (``<details>``)."""

from __future__ import annotations

import enum
import itertools
import types
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from annotated_types import MaxLen
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from ledger.bootstrap import Ledger
from ledger.commands.application import stamp_command
from ledger.commands.models import CommandError, TicketCommand
from ledger.commands.registry import TICKET_COMMANDS, authorise, parse_command
from ledger.commands.users import User
from ledger.domain.errors import DomainError
from ledger.domain.roles import Forbidden
from ledger.domain.ticket import Ticket

NOTE_COMMANDS = ("note", "reply")
"""Work notes and customer replies: a text box each, below the buttons."""
ACTIONS: tuple[str, ...] = tuple(
    name
    for name, entry in TICKET_COMMANDS.items()
    if issubclass(entry.model, TicketCommand) and not entry.upload and name not in NOTE_COMMANDS
)
"""The ticket commands a button may stand for, in the registry's order."""
COMMON = frozenset({"command", "actor", "role", "at", "ticket"})
"""Every command's fields that the page fills in itself (who, which ticket, now)."""
LONG_TEXT = 200
"""A text field allowed more than this many characters is a text area."""
MAX_PROBES = 64
"""At most this many sample commands per button (the product of its enum options)."""

Kind = Literal["text", "textarea", "select", "datetime", "number"]


@dataclass(frozen=True)
class FormField:
    """One field of a button's form, as its command model declares it."""

    name: str
    kind: Kind
    required: bool
    options: tuple[str, ...] = ()
    """A select's values (an enum's); on a page, those the decider accepts now."""


@dataclass(frozen=True)
class Action:
    """A button the page shows: its command and its form."""

    name: str
    fields: tuple[FormField, ...]

    @property
    def required(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if f.required)

    @property
    def optional(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if not f.required)


def _bare(annotation: Any) -> Any:
    """``X | None`` → ``X``; ``Annotated[X, ...]`` → ``X``."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        annotation = kept[0] if len(kept) == 1 else annotation
    return annotation


def _kind(info: FieldInfo) -> tuple[Kind, tuple[str, ...]]:
    bare = _bare(info.annotation)
    if isinstance(bare, type) and issubclass(bare, enum.Enum):
        return "select", tuple(str(member.value) for member in bare)
    if bare is datetime:
        return "datetime", ()
    if bare in (int, float, Decimal):
        return "number", ()
    longest = max((m.max_length for m in _metadata(info) if isinstance(m, MaxLen)), default=0)
    return ("textarea" if longest > LONG_TEXT else "text"), ()


def _metadata(info: FieldInfo) -> list[Any]:
    """The field's constraints, also those of an optional type (``Text | None``)."""
    found = list(info.metadata)
    for arg in get_args(info.annotation):
        if get_origin(arg) is Annotated:
            for extra in get_args(arg)[1:]:
                found += [extra, *getattr(extra, "metadata", ())]
    return found


@cache
def form_fields(command: str) -> tuple[FormField, ...]:
    """The fields a page asks for ``command`` (a registry name): its model's, in order,
    less those every command shares (:data:`COMMON`)."""
    model = TICKET_COMMANDS[command].model
    found = []
    for name, info in model.model_fields.items():
        if name in COMMON:
            continue
        kind, options = _kind(info)
        found.append(FormField(name, kind, info.is_required(), options))
    return tuple(found)


_TEXT_SAMPLES = ("x", "110")
"""Texts a required text field is probed with: the first its type accepts ("110" for a
phone number)."""


def _samples(command: str, field: FormField, now: datetime) -> list[Any]:
    """What ``field`` is filled with to ask the decider: each option of a select (and, for
    an optional one, none), a valid sample of a required field, nothing for the rest."""
    if field.kind == "select":
        return ([None] if not field.required else []) + list(field.options)
    if not field.required:
        return [None]
    if field.kind == "datetime":
        return [now]
    if field.kind == "number":
        return [0]
    return [_text_sample(command, field.name)]


@cache
def _text_sample(command: str, name: str) -> str:
    info = TICKET_COMMANDS[command].model.model_fields[name]
    adapter: TypeAdapter[Any] = TypeAdapter(Annotated[info.annotation, info])  # type: ignore[arg-type]
    for text in _TEXT_SAMPLES:
        try:
            adapter.validate_python(text)
        except ValidationError:
            continue
        return text
    return _TEXT_SAMPLES[0]


def _accepted(ledger: Ledger, ticket: Ticket, data: dict[str, Any]) -> bool:
    try:
        command = parse_command(data, ledger.tz)
        assert isinstance(command, TicketCommand)
        command.decide(ticket, stamp_command(command, ledger.clock))
    except (DomainError, CommandError):
        return False
    return True


def offered(ledger: Ledger, user: User, ticket: Ticket, command: str) -> Action | None:
    """``command``'s button for ``user`` on ``ticket`` now, or ``None``: the role matrix
    refuses it, or the decider refuses every sample of it."""
    try:
        authorise(command, user.role, actor=user.name)
    except Forbidden:
        return None
    fields = form_fields(command)
    now = ledger.clock.now()
    base = {
        "command": command,
        "actor": user.name,
        "role": user.role.value,
        "ticket": ticket.number,
    }
    choices = [_samples(command, f, now) for f in fields]
    accepted: list[tuple[Any, ...]] = []
    for values in itertools.islice(itertools.product(*choices), MAX_PROBES):
        given = {f.name: v for f, v in zip(fields, values, strict=True) if v is not None}
        if _accepted(ledger, ticket, base | given):
            accepted.append(values)
    if not accepted:
        return None
    return Action(
        command, tuple(_narrowed(f, [v[i] for v in accepted]) for i, f in enumerate(fields))
    )


def _narrowed(field: FormField, accepted: list[Any]) -> FormField:
    """A select offering only the values the decider accepted; one that must be given now
    (none of its samples left out was accepted) becomes required."""
    if field.kind != "select":
        return field
    options = tuple(o for o in field.options if o in accepted)
    return replace(field, options=options, required=field.required or None not in accepted)


def available_actions(ledger: Ledger, user: User, ticket: Ticket) -> list[Action]:
    """The buttons ``user`` may press on ``ticket`` now, in the registry's order: a page
    shows these and nothing else."""
    found = (offered(ledger, user, ticket, name) for name in ACTIONS)
    return [action for action in found if action is not None]
