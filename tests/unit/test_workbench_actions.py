"""The ticket page's buttons are the registry's ticket commands and their forms the command
models' fields (ledger/workbench/actions.py); every one has its words in both languages."""

from __future__ import annotations

import pytest

from ledger.commands.registry import TICKET_COMMANDS
from ledger.workbench.actions import ACTIONS, NOTE_COMMANDS, FormField, form_fields
from ledger.workbench.words import WORDS


def test_every_ticket_command_is_a_button_a_note_the_report_or_an_upload() -> None:
    uploads = {name for name, entry in TICKET_COMMANDS.items() if entry.upload}
    assert uploads == {"attach"}
    assert set(ACTIONS) | set(NOTE_COMMANDS) | {"report"} | uploads == set(TICKET_COMMANDS)
    assert not set(ACTIONS) & (set(NOTE_COMMANDS) | {"report"} | uploads)
    assert list(ACTIONS) == [n for n in TICKET_COMMANDS if n in ACTIONS]  # the registry's order


def test_a_form_asks_for_its_models_fields_but_who_which_ticket_and_when() -> None:
    assert form_fields("reclassify") == (
        FormField("severity", "select", False, ("emergency", "critical", "major", "general")),
        FormField("category", "select", False, ("consultation", "defect")),
        FormField("reason", "textarea", True),
    )
    assert form_fields("change_contact") == (
        FormField("contact_name", "text", True),
        FormField("contact_phone", "text", True),
        FormField("changed_at", "datetime", True),
        FormField("note", "textarea", False),
    )
    assert [(f.name, f.kind) for f in form_fields("contact_sheet")][:2] == [
        ("sheet", "text"),
        ("fee", "number"),
    ]
    assert form_fields("resume") == (FormField("reason", "textarea", False),)
    assert form_fields("close") == (FormField("note", "textarea", False),)
    assert [f.name for f in form_fields("arrive")] == [
        "latitude",
        "longitude",
        "accuracy",
        "engineer",
    ]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_button_field_and_option_has_its_words(lang: str) -> None:
    own = WORDS.own[lang]  # type: ignore[index]
    keys = {f"act:{name}" for name in (*ACTIONS, *NOTE_COMMANDS)}
    for name in (*ACTIONS, *NOTE_COMMANDS):
        for f in form_fields(name):
            keys.add(f"field:{f.name}")
            prefix = "sev:" if f.name == "severity" else f"opt:{f.name}:"
            keys |= {prefix + option for option in f.options}
    assert sorted(k for k in keys if k not in own) == []
