"""One aggregate's events checked against their chain links (``ledger ticket verify``, the
dossier), and the recorded time of the event before each in the chain (the audit's
back-dating check): by index, O(events of that aggregate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import Engine, text

from ledger.integrity.findings import REWRITTEN
from ledger.storage.chain import CHAIN_TABLE, recorded_text, recorded_time
from ledger.storage.hashing import GENESIS, canonical_bytes, link
from ledger.storage.reads import id_column


def chain_predecessor_times(
    engine: Engine, events_table: str, originator_id: UUID
) -> dict[int, datetime]:
    """For each version of one aggregate, the recorded time of the event before it in the
    chain (by index: two lookups per event)."""
    with engine.connect() as conn:
        nid = id_column(conn)
        sqlite = conn.dialect.name == "sqlite"
        rows = conn.execute(
            text(
                f"SELECT e.originator_version, pe.state FROM {events_table} e "
                f"JOIN {CHAIN_TABLE} c ON c.notification_id = e.{nid} "
                f"JOIN {CHAIN_TABLE} pc ON pc.position = c.position - 1 "
                f"JOIN {events_table} pe ON pe.{nid} = pc.notification_id "
                "WHERE e.originator_id = :id"
            ),
            {"id": originator_id.hex if sqlite else originator_id},
        ).all()
    found = {}
    for version, state in rows:
        at = recorded_time(recorded_text(bytes(state)))
        if at is not None:
            found[int(version)] = at
    return found


@dataclass(frozen=True)
class LinkCheck:
    """One event of an aggregate and its place in the chain.

    ``ok``: the event has a link whose ``event_hash`` recomputes from the stored hash of
    the link before it (``previous_hash``) and the stored event. ``problem`` says why not.
    """

    version: int
    notification_id: int
    position: int | None
    event_hash: str | None  # hex
    previous_hash: str | None  # hex; GENESIS for position 1
    ok: bool
    problem: str | None


def verify_aggregate(
    engine: Engine, events_table: str, originator_id: UUID | str
) -> list[LinkCheck]:
    """Check each event of one aggregate (a ticket, a visit …) against its chain link, in
    version order: O(events of that aggregate), by index. Proves each link locally;
    that the chain around them is unbroken is ``verify_ledger``'s business."""
    if not isinstance(originator_id, UUID):
        try:
            originator_id = UUID(originator_id)
        except ValueError:
            return []  # every aggregate id is a UUID: no such aggregate
    with engine.connect() as conn:
        nid = id_column(conn)
        sqlite = conn.dialect.name == "sqlite"
        rows = conn.execute(
            text(
                f"SELECT e.originator_version, e.{nid}, e.topic, e.state, c.position, "
                f"c.event_hash, p.event_hash FROM {events_table} e "
                f"LEFT JOIN {CHAIN_TABLE} c ON c.notification_id = e.{nid} "
                f"LEFT JOIN {CHAIN_TABLE} p ON p.position = c.position - 1 "
                f"WHERE e.originator_id = :id ORDER BY e.originator_version"
            ),
            {"id": originator_id.hex if sqlite else originator_id},  # as each recorder stores it
        ).all()
    checks = []
    expected = 1
    for version, n, topic, state, position, stored, before in rows:
        previous = GENESIS if position == 1 else None if before is None else bytes(before)
        problem: str | None = None
        if position is None:
            problem = f"notification {n} is not in the chain"
        elif previous is None:
            problem = f"position {position}: the link before it (position {position - 1}) is gone"
        elif link(
            previous, canonical_bytes(position, originator_id, version, topic, bytes(state))
        ) != bytes(stored):
            problem = f"position {position}: {REWRITTEN}"
        elif version != expected:
            problem = f"position {position}: version {version} follows version {expected - 1}"
        expected = version + 1
        checks.append(
            LinkCheck(
                version=version,
                notification_id=n,
                position=position,
                event_hash=None if stored is None else bytes(stored).hex(),
                previous_hash=None if previous is None else previous.hex(),
                ok=problem is None,
                problem=problem,
            )
        )
    return checks
