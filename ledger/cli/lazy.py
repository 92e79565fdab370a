"""Command groups imported only when invoked (click's documented "lazy loading" pattern),
so that ``ledger --help`` and every command start without importing the modules, models
and libraries of the commands not run (issue 18: a cold start under 300 ms)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, NamedTuple

import click

from ledger.cli.support import LedgerGroup


class Lazy(NamedTuple):
    """Where a top-level command lives (``"module:attribute"``) and its one-line help as
    ``ledger --help`` lists it: the first sentence of its help (tests/unit/test_cli_imports.py
    checks both against the command itself)."""

    target: str
    short_help: str


class LazyGroup(LedgerGroup):
    """A group whose commands named in ``lazy`` are imported on first use. Its help lists
    them from their :class:`Lazy` entries, importing nothing."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        self.commands = LoadingCommands(self.commands, self.lazy)
        self._listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        if self._listing:  # the listing needs the name and the line only
            return click.Command(cmd_name, help=self.lazy[cmd_name].short_help)
        return self.commands[cmd_name]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


class LoadingCommands(dict[str, click.Command]):
    """A group's commands: a lazy one is imported when looked up by name
    (``cli.commands["ticket"]``), and kept; iterating gives the loaded ones only."""

    def __init__(self, loaded: Mapping[str, click.Command], lazy: Mapping[str, Lazy]) -> None:
        super().__init__(loaded)
        self.lazy = lazy

    def __missing__(self, name: str) -> click.Command:
        if name not in self.lazy:
            raise KeyError(name)
        command = self[name] = load(self.lazy[name].target)
        return command


def load(target: str) -> click.Command:
    """The command at ``"module:attribute"``."""
    module_name, _, attribute = target.partition(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


class SplitGroup(LedgerGroup):
    """A group whose own commands are defined with it, in a module that starts fast, and
    whose other commands are those of the group at ``rest`` (``"module:attribute"``),
    imported when one of them is run or the group's commands are listed."""

    def __init__(self, *args: Any, rest: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rest = rest
        self._rest: click.Group | None = None
        self.commands = RestCommands(self.commands, self)

    def rest_group(self) -> click.Group:
        if self._rest is None:
            rest = load(self.rest)
            if not isinstance(rest, click.Group):
                raise TypeError(f"{self.rest} is not a click group")
            self._rest = rest
        return self._rest

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.rest_group().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return self.rest_group().get_command(ctx, cmd_name)


class RestCommands(dict[str, click.Command]):
    """A :class:`SplitGroup`'s commands: its own, and one of the rest group's when looked
    up by name (``group.commands["report"]``); iterating gives its own only."""

    def __init__(self, own: Mapping[str, click.Command], group: SplitGroup) -> None:
        super().__init__(own)
        self.group = group

    def __missing__(self, name: str) -> click.Command:
        return self.group.rest_group().commands[name]
