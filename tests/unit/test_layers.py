"""The layers import only downwards (docs/architecture.md): every ``import`` in ``ledger/``,
at module level, inside a function or under ``TYPE_CHECKING``, read with ``ast`` (nothing
is imported, so a violation is caught even on a path no test runs)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "ledger"

DOMAIN_MAY_IMPORT = ("pydantic", "pydantic_core")
"""Besides the standard library and ``ledger.domain`` itself."""

FORBIDDEN: list[tuple[str, tuple[str, ...], str]] = [
    ("ledger.projections", ("ledger.commands",), "projections ↛ commands"),
    (
        "ledger.storage",
        (
            "ledger.projections",
            "ledger.commands",
            "ledger.api",
            "ledger.dashboard",
            "ledger.workbench",
            "ledger.cli",
            "ledger.bootstrap",
        ),
        "storage ↛ projections, commands, adapters, bootstrap",
    ),
    ("ledger.api", ("ledger.dashboard", "ledger.workbench"), "api ↛ dashboard, workbench"),
    ("ledger.dashboard", ("ledger.api", "ledger.workbench"), "dashboard ↛ api, workbench"),
    ("ledger.integrity", ("ledger.projections",), "integrity ↛ projections"),
    ("ledger.feed", ("ledger.bootstrap",), "feed ↛ bootstrap"),
]
"""(importing package, what it may not import, the rule's name)."""


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in the file, relative ones resolved."""
    module = _module_name(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield node.lineno, base
            for alias in node.names:  # `from ledger import cli` imports ledger.cli
                yield node.lineno, f"{base}.{alias.name}"


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _all_imports() -> list[tuple[str, int, str]]:
    """``(module, line, imported)`` over every module of ``ledger/``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        found.extend((module, line, imported) for line, imported in _imports(path))
    return found


def _is_ledger_module(name: str) -> bool:
    """``name`` is a module (or package) of ``ledger/``, not a name imported from one."""
    relative = Path(*name.split("."))
    return (ROOT / relative).with_suffix(".py").exists() or (ROOT / relative).is_dir()


def _report(violations: list[str]) -> str:
    return "imports against the layering:\n" + "\n".join(sorted(set(violations)))


def test_the_walk_finds_every_kind_of_import() -> None:
    """Function-level imports and ``TYPE_CHECKING`` ones are seen."""
    found = {(m, i) for m, _, i in _all_imports()}
    assert ("ledger.cli.serve", "ledger.web") in found  # inside a function
    assert ("ledger.domain.visit_schedule", "ledger.domain.contract") in found  # TYPE_CHECKING


def test_the_domain_imports_only_itself_the_standard_library_and_pydantic() -> None:
    violations = [
        f"{module}:{line} imports {imported} (domain → only ledger.domain, stdlib, pydantic)"
        for module, line, imported in _all_imports()
        if _within(module, "ledger.domain")
        and not _within(imported, "ledger.domain")
        and imported.split(".")[0] not in (*sys.stdlib_module_names, *DOMAIN_MAY_IMPORT)
    ]
    assert not violations, _report(violations)


@pytest.mark.parametrize(
    ("package", "forbidden", "rule"),
    FORBIDDEN,
    ids=[p.removeprefix("ledger.") for p, *_ in FORBIDDEN],
)
def test_no_layer_imports_against_the_rule(
    package: str, forbidden: tuple[str, ...], rule: str
) -> None:
    violations = [
        f"{module}:{line} imports {imported} ({rule})"
        for module, line, imported in _all_imports()
        if _within(module, package)
        and any(_within(imported, f) for f in forbidden)
        and _is_ledger_module(imported)
    ]
    assert not violations, _report(violations)


def test_only_the_cli_imports_the_cli() -> None:
    violations = [
        f"{module}:{line} imports {imported} (nothing outside cli imports cli)"
        for module, line, imported in _all_imports()
        if not _within(module, "ledger.cli")
        and module != "ledger.__main__"
        and _within(imported, "ledger.cli")
        and _is_ledger_module(imported)
    ]
    assert not violations, _report(violations)


def test_a_planted_violation_is_found_with_its_module_and_line(tmp_path: Path) -> None:
    """The walk sees an upward import hidden in a function, where a test run may never go."""
    planted = tmp_path / "ledger" / "storage" / "bad.py"
    planted.parent.mkdir(parents=True)
    planted.write_text("import os\n\n\ndef f():\n    from ..projections import base\n")
    assert _module_name(planted, tmp_path) == "ledger.storage.bad"
    assert (5, "ledger.projections.base") in set(_imports(planted, tmp_path))
