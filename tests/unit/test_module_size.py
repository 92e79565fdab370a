"""A module over 500 lines is read in pieces: split it by concept, or say in its docstring
why it stays whole (a line starting ``Over 500 lines:``)."""

from __future__ import annotations

import ast
from pathlib import Path

LEDGER = Path(__file__).parents[2] / "ledger"
LIMIT = 500


def oversized_without_a_reason(root: Path = LEDGER) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.count("\n") + 1
        if lines <= LIMIT:
            continue
        docstring = ast.get_docstring(ast.parse(source)) or ""
        if "Over 500 lines:" not in docstring:
            found.append(f"{path.relative_to(root.parent)}: {lines} lines, no reason given")
    return found


def test_no_module_is_over_500_lines_without_saying_why() -> None:
    assert oversized_without_a_reason() == []


def test_the_check_sees_a_long_module(tmp_path: Path) -> None:
    long = tmp_path / "ledger" / "long.py"
    long.parent.mkdir()
    long.write_text('"""A module."""\n' + "x = 1\n" * LIMIT)
    assert oversized_without_a_reason(long.parent) == ["ledger/long.py: 502 lines, no reason given"]
    long.write_text('"""A module.\n\nOver 500 lines: one table."""\n' + "x = 1\n" * LIMIT)
    assert oversized_without_a_reason(long.parent) == []
