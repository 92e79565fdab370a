"""The one command registry (``ledger/commands/registry.py``) and the self-registering
events: every event can be folded, judged and published; every command can be typed,
imported and authorised. Adding one without the others fails here."""

from __future__ import annotations

import click
import pytest

from ledger.cli import cli
from ledger.cli.support import COMMAND_ENVELOPE
from ledger.commands.evidence_models import FILE_FIELDS
from ledger.commands.import_lines import IMPORTABLE, parse_line
from ledger.commands.models import CommandError
from ledger.commands.registry import ALLOWED, COMMANDS, CREATING, OTHER_WRITES, TICKET_COMMANDS
from ledger.domain import access, complaint, contract, corrective_action, holidays, notification
from ledger.domain import privacy as pv
from ledger.domain import return_visit as rv
from ledger.domain import ticket as tk
from ledger.domain.audit import NORMAL_ROLES
from ledger.domain.model import DomainEvent, recorded_events
from ledger.domain.numbering import NumberIssued, TicketNumberIssued
from ledger.feed.cloudevents import EVENT_CLASSES, EVENT_TYPES, event_type
from tests.support import SHANGHAI

FOLDS = {
    tk.TicketEvent: tk.mutate,
    rv.VisitEvent: rv.mutate,
    corrective_action.ActionEvent: corrective_action.mutate,
    complaint.ComplaintEvent: complaint.mutate,
    contract.ContractEvent: contract.mutate,
    holidays.HolidayTableLoaded: holidays.mutate,
    access.AccessEvent: access.mutate,
    notification.NotificationRulesLoaded: notification.mutate,
    pv.SubjectEvent: pv.mutate,
}
"""Each aggregate's event base and its ``mutate``."""
NUMBERS = {TicketNumberIssued, NumberIssued}
"""A number sequence is folded by its version alone: its events have no ``mutate``."""

EVERY_EVENT = recorded_events(DomainEvent)
LEDGER_EVENTS = [c for c in EVERY_EVENT if c.__module__.startswith("ledger.domain.")]


def _fold_of(cls: type[DomainEvent]) -> object:
    return next(fold for base, fold in FOLDS.items() if issubclass(cls, base))


@pytest.mark.parametrize("cls", LEDGER_EVENTS, ids=lambda c: c.__name__)
def test_every_event_has_a_mutate_and_a_cloudevents_type(cls: type[DomainEvent]) -> None:
    if cls not in NUMBERS:
        assert cls in _fold_of(cls).registry, f"{cls.__name__} has no mutate"  # type: ignore[attr-defined]
    assert cls in EVENT_CLASSES
    assert EVENT_TYPES[event_type(cls)] is cls


@pytest.mark.parametrize("cls", recorded_events(tk.TicketEvent), ids=lambda c: c.__name__)
def test_every_ticket_event_has_a_normal_role(cls: type[tk.TicketEvent]) -> None:
    assert NORMAL_ROLES[cls]


def test_every_event_a_command_records_is_recorded_and_published() -> None:
    for name, entry in COMMANDS.items():
        for cls in entry.events:
            assert cls in LEDGER_EVENTS and cls in EVENT_CLASSES, (name, cls)
        if name in TICKET_COMMANDS:
            assert issubclass(entry.event, tk.TicketEvent) and entry.event in NORMAL_ROLES


def _cli_command(name: str) -> click.Command:
    """``report`` → ``ledger ticket report``, ``visit_chief_review`` → ``ledger visit
    chief-review``."""
    group, sub = ("ticket", name) if name in TICKET_COMMANDS else name.split("_", 1)
    found = cli.commands[group]
    assert isinstance(found, click.Group)
    return found.commands[sub.replace("_", "-")]


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_has_a_cli_command_an_import_line_and_a_role_row(name: str) -> None:
    entry = COMMANDS[name]
    assert entry.model.model_fields["command"].default == name
    fields = set(entry.model.model_fields) - COMMAND_ENVELOPE
    params = {p.name for p in _cli_command(name).params} - {"as_json", "lang", "actor", "role"}
    if entry.upload:  # the store fills in the file's fields from FILE (--name: its name)
        params, fields = params - {"file", "name"}, fields - FILE_FIELDS
    assert params - {"at"} == fields, name
    assert name in IMPORTABLE
    with pytest.raises(CommandError) as refused:  # refused for its fields, not its name
        parse_line({"command": name, "actor": "x", "role": "admin", "no_such_field": 1}, SHANGHAI)
    if entry.upload:  # an import line carries no file: refused for what it is
        assert "attaches a file, which an import line cannot carry" in str(refused.value)
        return
    assert any(p.startswith("no_such_field") for p in refused.value.problems), refused.value
    assert ALLOWED[name] == entry.roles and entry.roles


def test_the_matrix_is_the_commands_and_the_other_writes() -> None:
    assert set(ALLOWED) == set(COMMANDS) | set(OTHER_WRITES)
    assert set(IMPORTABLE) == set(COMMANDS)
    assert set(CREATING) == {"visit_schedule", "action_raise", "complaint_receive"}
