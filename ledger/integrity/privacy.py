"""``ledger verify``'s ``keys`` check: every encrypted personal field still has its key, or
its subject was erased (docs/privacy.md).

The chain proves the encrypted bytes; it cannot prove they can still be read. A key missing
although its subject was never erased (a key store lost, or restored from another ledger)
would show the person's data as gone while no erasure was ever recorded: that fails here,
as does a key destroyed with no ``SubjectErased`` to say why, and a key still present for a
subject the log says was erased (a key store restored from a backup older than the erasure:
``ledger privacy sweep`` destroys it again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from eventsourcing.utils import get_topic
from sqlalchemy import Connection, Engine, inspect, select

from ledger.domain import return_visit, ticket  # noqa: F401 (registers their events)
from ledger.domain.privacy import SubjectErased, personal_events, personal_fields
from ledger.integrity.findings import KEYS, Findings, Problem
from ledger.storage.privacy import privacy_keys, sealed_subjects
from ledger.storage.reads import read_chain

PERSONAL_TOPICS = {get_topic(cls): cls for cls in personal_events()}
"""The stored topics of the events with personal fields."""
ERASED_TOPIC = get_topic(SubjectErased)


class ErasedFacts:
    """What the ``SubjectErased`` events of the log say (collected while the chain is walked)."""

    def __init__(self) -> None:
        self.subjects: set[str] = set()
        self.files: set[str] = set()

    def add(self, state: bytes) -> None:
        try:
            data = orjson.loads(bytes(state))
            self.subjects.add(str(data["subject_id"]))
            self.files.update(str(sha) for sha in data.get("evidence_erased", ()))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass  # an unreadable event: the hashes check reports the edit


def erased_facts(conn: Connection, events_table: str) -> ErasedFacts:
    """The ``SubjectErased`` events of the log (a dossier's files erased, not missing)."""
    facts = ErasedFacts()
    after = 0
    while page := read_chain(conn, events_table, after=after, topics=[ERASED_TOPIC]):
        after = page[-1].position
        for link in page:
            if link.state is not None:
                facts.add(link.state)
    return facts


def check_keys(
    engine: Engine,
    sealed: Sequence[tuple[int, Any, int | None, str, Any]],
    erased: ErasedFacts,
    findings: Findings,
) -> None:
    """``sealed``: position, originator id, version, topic and state of each event holding an
    encrypted field."""
    first_seen: dict[str, tuple[int, Any, int | None]] = {}
    for position, originator_id, version, topic, state in sealed:
        try:
            data = orjson.loads(bytes(state))
        except orjson.JSONDecodeError:
            continue
        for subject in sealed_subjects(data, personal_fields(PERSONAL_TOPICS[topic])):
            first_seen.setdefault(subject, (position, originator_id, version))
    if not inspect(engine).has_table(privacy_keys.name):
        lost = {s: seen for s, seen in first_seen.items() if s not in erased.subjects}
        if lost:
            findings.add(
                Problem(
                    KEYS,
                    f"the privacy key store (table privacy_keys) is missing: the personal "
                    f"fields of {len(lost)} data subject(s) cannot be read, and none of them "
                    "was erased (restore the key store from its backup)",
                    min(p for p, _, _ in lost.values()),
                )
            )
        return
    with engine.connect() as conn:
        rows = {
            subject: key is not None
            for subject, key in conn.execute(select(privacy_keys.c.subject_id, privacy_keys.c.key))
        }
    for subject, (position, originator_id, version) in sorted(
        first_seen.items(), key=lambda item: item[1][0]
    ):
        has_key = rows.get(subject)
        if subject in erased.subjects:
            message = (
                None
                if not has_key
                else f"data subject {subject} was erased but its key is in the key store "
                "again (restored from a backup?): run `ledger privacy sweep` to destroy it"
            )
        elif has_key is None:
            message = (
                f"the key of data subject {subject} is missing from the key store and the "
                "subject was never erased (restore the key store from its backup)"
            )
        elif not has_key:
            message = f"the key of data subject {subject} was destroyed with no SubjectErased"
        else:
            message = None
        if message is not None:
            findings.add(
                Problem(KEYS, message, position, originator_id=str(originator_id), version=version)
            )
