"""The Complaint aggregate (投诉, seed 004): received → analysed → resolved → closed, with
corrective actions linked at any time; and a property test over random command sequences.

Times are minutes after ``T0`` (tests/histories.py): 2026-10-08 09:00 in Shanghai.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable
from typing import Any
from uuid import uuid5

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from ledger.domain.complaint import (
    NEXT_STEP,
    Complaint,
    ComplaintAnalysed,
    ComplaintCategory,
    ComplaintClosed,
    ComplaintEvent,
    ComplaintReceived,
    ComplaintResolved,
    ComplaintStatus,
    ComplaintSubject,
    CorrectiveActionLinked,
    decide_analyse,
    decide_close,
    decide_link_action,
    decide_receive,
    decide_resolve,
    mutate,
    project_complaint,
)
from ledger.domain.numbering import NAMESPACE, Series, ticket_id_for
from ledger.domain.values import Channel, Role
from tests.histories import (
    WORDS,
    Command,
    History,
    Run,
    at,
    command_strategy,
    rejected,
    stamp,
)

NUMBER = "C-2026-0003"
COMPLAINT_ID = Series.COMPLAINT.id_for(NUMBER)
TICKET = "T-2026-000123"


def received(
    occurred: float = 0, recorded: float | None = None, **overrides: Any
) -> ComplaintReceived:
    fields: dict[str, Any] = {
        "channel": Channel.PHONE,
        "customer": "某市档案馆",
        "about": ComplaintSubject.TICKET,
        "reference": TICKET,
        "category": ComplaintCategory.NON_QUALITY,
        "content": "工程师态度差，迟到两小时",
        "contract_id": "seed-004",
    }
    fields.update(overrides)
    return decide_receive(NUMBER, stamp(occurred, recorded, role=Role.DISPATCHER), **fields)


ANALYSIS: dict[str, Any] = {"cause": "工程师未按时出发", "department": "售后服务部", "ours": True}
RESOLUTION: dict[str, Any] = {
    "handling": "批评教育并调整排班",
    "result": "已电话告知客户，客户接受",
}


class Case(History[Complaint]):
    def __init__(self, **overrides: Any) -> None:
        super().__init__(received(**overrides), mutate)

    def status(self) -> ComplaintStatus:
        """A call, not a property: mypy would keep narrowing ``status`` across ``do``."""
        return self.state.status

    def analysed(self) -> Case:
        self.do(decide_analyse, 60, **ANALYSIS)
        return self

    def resolved(self) -> Case:
        self.analysed()
        self.do(decide_resolve, 120, **RESOLUTION)
        return self

    def closed(self) -> Case:
        self.resolved()
        self.do(decide_close, 180)
        return self


def _reach(status: ComplaintStatus) -> Case:
    case = Case()
    {
        ComplaintStatus.RECEIVED: lambda: case,
        ComplaintStatus.ANALYSED: case.analysed,
        ComplaintStatus.RESOLVED: case.resolved,
        ComplaintStatus.CLOSED: case.closed,
    }[status]()
    assert case.status() is status
    return case


# --------------------------------------------------------------------------- receive


def test_receive_records_every_field_and_starts_the_complaint() -> None:
    e = received(occurred=-20, recorded=0)
    assert type(e) is ComplaintReceived
    assert (e.originator_id, e.originator_version) == (COMPLAINT_ID, 1)
    assert uuid5(NAMESPACE, "complaint:C-2026-0003") == COMPLAINT_ID
    assert (e.occurred_at, e.timestamp, e.role) == (at(-20), at(0), Role.DISPATCHER)
    assert (e.number, e.channel, e.customer, e.contract_id) == (
        NUMBER,
        Channel.PHONE,
        "某市档案馆",
        "seed-004",
    )
    assert (e.about, e.reference, e.ticket_id) == (
        ComplaintSubject.TICKET,
        TICKET,
        ticket_id_for(TICKET),
    )
    assert e.category is ComplaintCategory.NON_QUALITY
    assert e.content == "工程师态度差，迟到两小时"

    c = mutate(e, None)
    assert (c.id, c.version, c.number) == (COMPLAINT_ID, 1, NUMBER)
    assert c.status is ComplaintStatus.RECEIVED and c.is_open
    assert c.received_at == c.last_step_at == at(-20)
    assert c.created_on == c.modified_on == at(0)
    assert c.ticket_id == ticket_id_for(TICKET)
    assert c.cause is None and c.ours is None and c.corrective_actions == ()


@pytest.mark.parametrize(
    ("about", "reference"),
    [(ComplaintSubject.ENGINEER, "张工"), (ComplaintSubject.PRODUCT, "扫描仪 A3-2000")],
)
def test_a_complaint_about_an_engineer_or_a_product_names_it(
    about: ComplaintSubject, reference: str
) -> None:
    e = received(about=about, reference=reference, contract_id=None)
    assert (e.about, e.reference, e.ticket_id, e.contract_id) == (about, reference, None, None)


def test_a_complaint_about_a_ticket_needs_its_number() -> None:
    with rejected("'张工' is not a ticket number"):
        received(reference="张工")
    assert received(reference=f"  {TICKET} ").ticket_id == ticket_id_for(TICKET)


@pytest.mark.parametrize("category", list(ComplaintCategory))
def test_every_category_is_accepted(category: ComplaintCategory) -> None:
    assert received(category=category).category is category


def test_receive_refuses_an_unknown_category_and_a_future_time() -> None:
    with pytest.raises(ValidationError, match="category"):
        received(category="rude")
    with rejected("is in the future"):
        received(occurred=6, recorded=0)


# --------------------------------------------------------------------------- lifecycle


def test_received_analysed_resolved_closed() -> None:
    c = Case()
    analysed = c.do(decide_analyse, 60, **ANALYSIS, role=Role.QUALITY)
    assert type(analysed) is ComplaintAnalysed
    assert (analysed.cause, analysed.department, analysed.ours) == (
        "工程师未按时出发",
        "售后服务部",
        True,
    )
    assert c.status() is ComplaintStatus.ANALYSED
    assert (c.state.cause, c.state.department, c.state.ours) == (
        "工程师未按时出发",
        "售后服务部",
        True,
    )
    assert c.state.analysed_at == at(60)

    resolved = c.do(decide_resolve, 120, **RESOLUTION)
    assert type(resolved) is ComplaintResolved
    assert (resolved.handling, resolved.result) == (RESOLUTION["handling"], RESOLUTION["result"])
    assert c.status() is ComplaintStatus.RESOLVED
    assert (c.state.handling, c.state.result, c.state.resolved_at) == (
        RESOLUTION["handling"],
        RESOLUTION["result"],
        at(120),
    )

    closed = c.do(decide_close, 180, "月度评审通过")
    assert type(closed) is ComplaintClosed and closed.note == "月度评审通过"
    assert c.status() is ComplaintStatus.CLOSED and not c.state.is_open
    assert c.state.closed_at == at(180)
    assert c.replayed() == c.state == project_complaint(None, c.events)


def test_a_complaint_that_is_not_ours_is_still_resolved_and_closed() -> None:
    c = Case()
    c.do(decide_analyse, 60, cause="客户自行断电", department="售后服务部", ours=False)
    assert c.state.ours is False
    c.do(decide_resolve, 120, handling="解释原因", result="客户认可")
    c.do(decide_close, 130)
    assert c.status() is ComplaintStatus.CLOSED


COMMANDS: dict[str, tuple[Callable[..., ComplaintEvent], dict[str, Any]]] = {
    "analyse": (decide_analyse, ANALYSIS),
    "resolve": (decide_resolve, RESOLUTION),
    "close": (decide_close, {}),
}
ALLOWED = {
    ComplaintStatus.RECEIVED: "analyse",
    ComplaintStatus.ANALYSED: "resolve",
    ComplaintStatus.RESOLVED: "close",
    ComplaintStatus.CLOSED: None,
}


@pytest.mark.parametrize("status", list(ComplaintStatus))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_step_only_follows_the_one_before(status: ComplaintStatus, command: str) -> None:
    c = _reach(status)
    decide, kwargs = COMMANDS[command]
    if ALLOWED[status] == command:
        assert c.do(decide, 1000, **kwargs).originator_version == len(c.events)
        return
    message = c.refuse(f"complaint {NUMBER} is {status.value}: cannot ", decide, 1000, **kwargs)
    if status is ComplaintStatus.CLOSED:
        assert "next" not in message
    else:
        assert message.endswith(f"(next: {NEXT_STEP[status]})")


@pytest.mark.parametrize(
    ("status", "command", "previous"),
    [
        (ComplaintStatus.RECEIVED, "analyse", "its receipt"),
        (ComplaintStatus.ANALYSED, "resolve", "the analysis"),
        (ComplaintStatus.RESOLVED, "close", "the resolution"),
    ],
)
def test_no_step_is_dated_before_the_one_before(
    status: ComplaintStatus, command: str, previous: str
) -> None:
    c = _reach(status)
    decide, kwargs = COMMANDS[command]
    c.refuse_before(decide, c.state.last_step_at, previous, **kwargs)


def test_a_step_in_the_future_is_refused() -> None:
    Case().refuse("is in the future", decide_analyse, 106, recorded=100, **ANALYSIS)


# --------------------------------------------------------------------------- corrective actions


@pytest.mark.parametrize("status", list(ComplaintStatus))
def test_a_corrective_action_can_be_linked_at_any_step(status: ComplaintStatus) -> None:
    c = _reach(status)
    e = c.do(decide_link_action, 1000, "CA-2026-0001")
    assert type(e) is CorrectiveActionLinked
    assert (e.action_number, e.action_id) == (
        "CA-2026-0001",
        Series.CORRECTIVE_ACTION.id_for("CA-2026-0001"),
    )
    assert c.status() is status
    assert [a.number for a in c.state.corrective_actions] == ["CA-2026-0001"]


def test_a_corrective_action_is_linked_once() -> None:
    c = Case()
    c.do(decide_link_action, 10, "CA-2026-0001")
    c.do(decide_link_action, 11, "CA-2026-0002")
    c.refuse(
        "complaint C-2026-0003 is already linked to corrective action CA-2026-0001",
        decide_link_action,
        12,
        "CA-2026-0001",
    )
    c.refuse("'CA-2026-1' is not a corrective action number", decide_link_action, 12, "CA-2026-1")
    c.refuse("is before its receipt", decide_link_action, -1, "CA-2026-0003")
    assert c.replayed() == c.state


def test_a_whole_complaint_is_stored_and_replayed() -> None:
    c = Case().closed()
    c.do(decide_link_action, 200, "CA-2026-0001")
    c.check_storage_and_dispatch(ComplaintEvent)


# --------------------------------------------------------------------------- properties

DECIDERS: dict[str, Callable[..., ComplaintEvent]] = {
    **{name: decide for name, (decide, _) in COMMANDS.items()},
    "link_action": decide_link_action,
}
ARGUMENTS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "analyse": st.fixed_dictionaries(
        {
            "cause": WORDS,
            "department": st.sampled_from(["售后服务部", "质量部"]),
            "ours": st.booleans(),
        }
    ),
    "resolve": st.fixed_dictionaries({"handling": WORDS, "result": WORDS}),
    "close": st.fixed_dictionaries({"note": st.sampled_from([None, "归档"])}),
    "link_action": st.fixed_dictionaries(
        {"action_number": st.sampled_from(["CA-2026-0001", "CA-2026-0002"])}
    ),
}
GRAMMAR = re.compile(r"R(A(S(C)?)?)?")
LETTERS = {
    ComplaintReceived: "R",
    ComplaintAnalysed: "A",
    ComplaintResolved: "S",
    ComplaintClosed: "C",
}
STATUS_OF_LAST = dict(zip("RASC", ComplaintStatus, strict=True))


@functools.cache
def commands(plausible: str | None) -> st.SearchStrategy[Command]:
    names = [*DECIDERS, *([plausible] * 4 if plausible else [])]
    return command_strategy(names, ARGUMENTS)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_command_sequence_keeps_the_order(data: st.DataObject) -> None:
    r = Run(received(), mutate, DECIDERS)
    for _ in range(data.draw(st.integers(0, 25), label="commands")):
        r.step(data.draw(commands(ALLOWED[r.state.status])))
    r.check_common(in_order=False)  # a link may be dated anywhere after the receipt
    steps = [e for e in r.events if type(e) in LETTERS]
    word = "".join(LETTERS[type(e)] for e in steps)
    assert GRAMMAR.fullmatch(word), word
    assert r.state.status is STATUS_OF_LAST[word[-1]]
    for before, after in itertools.pairwise(steps):
        assert after.occurred_at >= before.occurred_at
    links = [e for e in r.events if isinstance(e, CorrectiveActionLinked)]
    assert all(e.occurred_at >= r.events[0].occurred_at for e in links)
    assert [a.number for a in r.state.corrective_actions] == [e.action_number for e in links]
    assert len({e.action_number for e in links}) == len(links)
