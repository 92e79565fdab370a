"""The domain and command models are built on first use (issue 18: start-up);
``build_validators`` builds every one that is not yet, for a server before its first
request and the benchmark before its clock starts."""

from __future__ import annotations

import ledger.commands.registry  # noqa: F401 (every command and event model defined)
from ledger.commands.models import Command
from ledger.domain.model import Immutable, build_validators


def _every(base: type) -> list[type]:
    found, pending = [], list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_build_validators_completes_every_model_and_then_has_nothing_left() -> None:
    models = _every(Immutable) + _every(Command)
    assert len(models) > 100
    build_validators(Immutable, Command)
    assert [m.__name__ for m in models if not m.__pydantic_complete__] == []
    assert build_validators(Immutable, Command) == 0
