"""Who may issue each command: the role matrix, the first gate of every write.

The principle (docs/roles.md):

* **Allowed is wider than normal.** ``domain/audit.py``'s :data:`NORMAL_ROLES` says who
  *normally* records each ticket event; ``ledger report audit`` lists every entry outside
  it. A ticket command is *allowed* to its event's normal roles, to the few roles real
  practice adds (:data:`ALSO_ALLOWED`: the hotline records an arrival or a fix the engineer
  phones in; seed 003's engineer marks the ticket Close), and to ``admin`` (corrections and
  the migration of paper records: never normal, so always listed by the audit). Allowed ⊇
  normal by construction.
* **The finer rules stay in the deciders.** Where a decider already reserves a command to
  some roles (``require_role``: a visit's audit, 总工办's opinion, a corrective action's
  verification), the matrix names exactly those roles, so both say the same.
* **Auditors never write**, customers only report, sign and complain, ``system`` is the
  sweep and the systems that report faults; reference data (contracts, the holiday
  calendar) and who may read the ledger (API and dashboard users) are administration:
  ``admin`` only.
* **Deny by default**: a command the matrix does not name is refused to everyone.

The matrix itself is ``ALLOWED`` in ``ledger/commands/registry.py``, derived from the one
map of commands; this module holds the principle's pieces.

Identity is asserted, not authenticated, on the CLI (``--actor`` / ``--role``): the gate
stops mistakes and makes every write's role a checked claim, recorded on the event.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.audit import DESK, FIELD, MANAGERS, NORMAL_ROLES
from ledger.domain.errors import DomainError
from ledger.domain.ticket import TicketEvent
from ledger.domain.values import Role


class Forbidden(DomainError):
    """The command's role may not issue it: nothing was recorded, no number was used."""


ALSO_ALLOWED: dict[str, frozenset[Role]] = {
    # An engineer who finds another fault on site, a manager, or the quality department
    # whose return visit found a quality problem (seed 000: it goes into the warranty
    # process) opens a ticket too.
    "report": frozenset({Role.ENGINEER, *MANAGERS, Role.QUALITY}),
    # The hotline records the arrival or the fix an engineer phones in.
    "arrive": DESK,
    "resolve": DESK,
    # Seed 003: the engineer "updates the ticket until it is resolved and marked Close".
    "close": frozenset({Role.ENGINEER}),
    # The hotline records the repair start an engineer phones in.
    "start_repair": DESK,
    # ... and that the engineer set off.
    "set_off": DESK,
}
"""Roles allowed a ticket command though its audit norm does not expect them (besides
``admin``): ``ledger report audit`` lists each such entry."""


def ticket_command_roles(name: str, event: type[TicketEvent]) -> frozenset[Role]:
    """Who may issue the ticket command ``name``, which records ``event``: the event's
    normal roles, what :data:`ALSO_ALLOWED` adds, and admin."""
    extra = ALSO_ALLOWED.get(name, frozenset())
    return NORMAL_ROLES[event] | extra | {Role.ADMIN}


VISITORS = frozenset({*FIELD, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE, Role.ADMIN})
"""Who makes and records return visits: the quality department's phone visits (seed 003),
the hotline's weekly contact (000), engineers' inspection rounds (001), managers, 总工办."""
QUALITY_WORK = frozenset({Role.ENGINEER, *MANAGERS, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE})
"""Who works a corrective action's boxes (seed 000's card: the responsible department and
person, the quality department, 总工办)."""
SUPERVISION = frozenset({*MANAGERS, Role.QUALITY, Role.CHIEF_ENGINEER_OFFICE, Role.ADMIN})
"""Who raises corrective actions and handles complaints."""


def in_role_order(roles: Iterable[Role]) -> list[Role]:
    """``roles`` in the order :class:`Role` declares them (for messages and tables)."""
    chosen = set(roles)
    return [role for role in Role if role in chosen]


def _either(roles: Iterable[Role]) -> str:
    names = [role.value for role in in_role_order(roles)]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_role(
    command_name: str, allowed: frozenset[Role] | None, role: Role, *, actor: str | None = None
) -> None:
    """Refuse (:class:`Forbidden`) a command whose role is not ``allowed`` (its row of the
    matrix, ``None``: it has none); the message names the roles that may, e.g. ``resolve
    needs role dispatcher, engineer, ... or admin; 李娜 is auditor``."""
    if allowed is None:
        raise Forbidden(f"{command_name} is not in the role matrix: no role may issue it")
    if role not in allowed:
        who = f"{actor} is {role.value}" if actor else f"not {role.value}"
        raise Forbidden(f"{command_name} needs role {_either(allowed)}; {who}")
