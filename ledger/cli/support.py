"""Shared CLI plumbing: error translation, settings, common options and output."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, get_args, get_origin

import click
import orjson

from ledger.clock import Clock, FixedClock, SystemClock
from ledger.domain.values import (
    Role,
)
from ledger.storage.location import parse_location, resolve_url
from ledger.timeutil import parse_time, show_error, zone

if TYPE_CHECKING:  # the heavy modules are imported where a command needs them (issue 18)
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo
    from rich.console import Console

    from ledger.bootstrap import Ledger
    from ledger.commands.models import CommandError

F = TypeVar("F", bound=Callable[..., Any])

BAD_INPUT = 2
FAILURE = 1


class BadInput(click.ClickException):
    exit_code = BAD_INPUT


class Failure(click.ClickException):
    exit_code = FAILURE


def fail(message: str, exit_code: int = BAD_INPUT) -> NoReturn:
    raise (BadInput if exit_code == BAD_INPUT else Failure)(message)


def _first_line(error: BaseException) -> str:
    return _first_line_of(str(error)) or type(error).__name__


def _first_line_of(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _user_zone() -> tzinfo:
    """The zone of the command being run (``--tz``), for times in its error messages."""
    ctx = click.get_current_context(silent=True)
    settings = None if ctx is None else ctx.find_object(Settings)
    try:
        return zone(None) if settings is None else settings.tz
    except click.ClickException:  # a bad --tz: its own error is reported elsewhere
        return zone(None)


@contextmanager
def translated_errors() -> Iterator[None]:
    """Map what can go wrong to one clear line and an exit code; never a traceback."""
    try:
        yield
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise
    except Exception as e:
        _translate(e)
        if os.environ.get("LEDGER_DEBUG"):
            raise
        fail(f"internal error ({type(e).__name__}): {_first_line(e)}", FAILURE)


def _translate(e: Exception) -> None:
    """Fail with ``e``'s line when it is one the ledger knows; the classes are imported
    here, when something went wrong, not when every command starts."""
    from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
    from sqlalchemy.exc import DBAPIError

    from ledger.commands.application import ConcurrentChange, NotFound
    from ledger.commands.models import CommandError
    from ledger.domain.errors import DomainError
    from ledger.projections.base import UnknownProjection
    from ledger.storage.chain import RecordedTimeBackwards
    from ledger.storage.clock_mode import ClockModeRefused
    from ledger.storage.location import LocationError
    from ledger.storage.tables import LedgerNotInitialised

    if isinstance(e, CommandError):
        fail("invalid command: " + "; ".join(e.problems))
    if isinstance(
        e,
        (
            DomainError,
            NotFound,
            LocationError,
            LedgerNotInitialised,
            UnknownProjection,
            ClockModeRefused,
        ),
    ):
        fail(_first_line_of(show_error(e, _user_zone())))
    if isinstance(e, ConcurrentChange):
        if isinstance(e.__cause__, RecordedTimeBackwards):  # the clock is behind the log
            fail(_first_line(e.__cause__), FAILURE)
        fail(_first_line(e), FAILURE)
    from ledger.storage.field_cipher import PrivacyKeyError

    if isinstance(e, PrivacyKeyError):
        fail(f"personal data cannot be read: {_first_line(e)}", FAILURE)
    if isinstance(e, MapperDeserialisationError):
        fail(f"a stored event cannot be read: {_first_line(e)}", FAILURE)
    if isinstance(e, (PersistenceError, DBAPIError, OSError)):
        fail(f"database unavailable or unusable: {_first_line(e)}", FAILURE)


class LedgerGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        with translated_errors():
            return super().invoke(ctx)


# --------------------------------------------------------------------------- context


class Settings:
    def __init__(self, db: str | None, tz_name: str | None, evidence: str | None = None) -> None:
        self.url = resolve_url(db)
        self.tz_name = tz_name
        self.evidence = evidence
        """``--evidence``: where evidence files are stored (else ``LEDGER_EVIDENCE``, else
        the default: ``ledger/storage/evidence.py``)."""
        self._tz: tzinfo | None = None

    @property
    def tz(self) -> tzinfo:
        if self._tz is None:
            try:
                self._tz = zone(self.tz_name)
            except ValueError as e:
                fail(str(e))
        return self._tz

    def clock(self) -> Clock:
        fixed = os.environ.get("LEDGER_NOW")
        if fixed:
            try:
                return FixedClock(parse_time(fixed, self.tz))
            except ValueError as e:
                fail(f"LEDGER_NOW: {e}")
        return SystemClock()

    def open(
        self, *, create: bool = False, parents: bool = False, fixed_clock: bool = False
    ) -> Ledger:
        """The ledger, on the real clock; on ``LEDGER_NOW``'s fixed clock only when the
        ledger was declared a fixed-clock (demo or test) ledger: ``fixed_clock`` declares
        it, with ``create`` (``ledger init --fixed-clock``)."""
        from ledger.bootstrap import Ledger

        clock = self.clock()
        ledger = Ledger(
            parse_location(self.url),
            clock=clock,
            tz=self.tz,
            create=create,
            parents=parents,
            fixed_clock=fixed_clock,
        )
        if isinstance(clock, FixedClock) and ledger.fixed_clock_since is None:
            ledger.close()
            fail(
                "LEDGER_NOW: refused, this ledger records the real time (a fixed clock is "
                "only for a demo or test ledger created with `ledger init --fixed-clock`)"
            )
        return ledger


pass_settings = click.make_pass_decorator(Settings)


def console() -> Console:
    from rich.console import Console

    width = None if sys.stdout.isatty() else 160
    return Console(width=width, highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(f)


def lang_option(help_text: str) -> Callable[[F], F]:
    """``--lang zh|en``: Chinese by default, English on request."""
    return click.option(
        "--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True, help=help_text
    )


def choices(enum: Any) -> click.Choice[str]:
    return click.Choice([m.value for m in enum])


COMMAND_ENVELOPE = frozenset({"command", "actor", "role", "at"})
"""A command model's fields that are no option of its own (``actor_options`` adds who and
when; the name is the command's)."""


def model_options(model: type[BaseModel], arguments: Collection[str] = ()) -> Callable[[F], F]:
    """A command model's fields as click parameters, in the model's order: ``arguments``
    are positional, every other field is ``--field-name``: required when the model
    requires it, a choice of its enum's values (its default the enum default's), an int,
    repeated for a tuple, ``--x/--not-x`` for a bool (the model says it is required), its
    help the field's description. Other values stay text: the model validates them. A
    field's ``json_schema_extra`` may give its ``cli`` option names (``["-a", "--x"]``) or
    ``flags`` (flag value → help: one option per value)."""

    def decorate(f: F) -> F:
        params: list[Callable[[F], F]] = []
        for name, info in model.model_fields.items():
            if name in COMMAND_ENVELOPE:
                continue
            if name in arguments:
                params.append(click.argument(name))
                continue
            params.extend(_field_options(name, info))
        for param in reversed(params):
            f = param(f)
        return f

    return decorate


def _field_options(name: str, info: FieldInfo) -> list[Callable[[F], F]]:
    hints = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    flags = hints.get("flags")
    if isinstance(flags, dict):
        return [
            click.option(f"--{value}", name, flag_value=value, help=str(help_text))
            for value, help_text in flags.items()
        ]
    kinds = get_args(info.annotation) or (info.annotation,)
    kind = next((k for k in kinds if k is not type(None)), str)
    if get_origin(info.annotation) is tuple:
        kind = tuple
    cli = hints.get("cli")
    decls = [str(d) for d in cli] if isinstance(cli, list) else ["--" + name.replace("_", "-")]
    extra: dict[str, Any] = {}
    if kind is bool:
        decls = [f"{decls[0]}/--not-{decls[0].removeprefix('--')}"]
        extra["default"] = None
    elif info.is_required():
        extra["required"] = True
    if isinstance(kind, type) and issubclass(kind, Enum):
        extra["type"] = choices(kind)
        if isinstance(info.default, Enum):
            extra["default"] = info.default.value
    elif kind is int:
        extra["type"] = int
    elif kind is tuple:
        extra["multiple"] = True
    if info.description:
        extra["help"] = info.description
    return [click.option(*decls, name, **extra)]


def who_options(
    f: F, *, role_option: str = "--role", role_help: str = "Role of the actor (or LEDGER_ROLE)."
) -> F:
    """``--actor`` and ``--role`` (required; from LEDGER_ACTOR / LEDGER_ROLE); the role's
    option is ``role_option`` where ``--role`` means something else."""
    f = click.option(
        role_option, envvar="LEDGER_ROLE", required=True, type=choices(Role), help=role_help
    )(f)
    f = click.option(
        "--actor", envvar="LEDGER_ACTOR", required=True, help="Who acts (or LEDGER_ACTOR)."
    )(f)
    return f


def actor_options(f: F) -> F:
    f = who_options(f)
    f = click.option(
        "--at",
        help="When it happened (ISO 8601; naive = configured zone). Default: now.",
    )(f)
    return f


def time_option(name: str, text: str | None, tz: tzinfo) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, tz)
    except ValueError as e:
        fail(f"{name}: {e}")


def file_problems(error: CommandError) -> NoReturn:
    """Every problem on a line of its own (``FILE: key.path: message``), then exit 2."""
    for problem in error.problems:
        click.echo(problem, err=True)
    count = len(error.problems)
    fail(f"{count} problem{'' if count == 1 else 's'}: nothing recorded")


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def print_facts(title: str, facts: dict[str, str]) -> None:
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in facts.items():
        table.add_row(key, value)
    console().print(table)


@contextmanager
def stop_requested() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM, for the long-running commands (``feed --follow``,
    ``projections follow``): their loop stops between batches, never inside a database
    call, where an interrupt would leave the connection unusable for a clean close."""
    stop = threading.Event()
    previous = {
        signum: signal.signal(signum, lambda *_: stop.set())
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --------------------------------------------------------------------------- output files

STDOUT = "-"
"""The file name that means standard output (for a text format)."""

out_path = click.Path(dir_okay=False, allow_dash=True, path_type=Path)
"""The type of every option naming a file to write (``--out``, ``--csv``, ``--xlsx``)."""


def force_option(f: F) -> F:
    return click.option("--force", is_flag=True, help="Overwrite output files that already exist.")(
        f
    )


def is_stdout(path: Path | None) -> bool:
    return path is not None and str(path) == STDOUT


def check_output(path: Path, *, force: bool, binary: bool = False, what: str = "") -> None:
    """The one rule for every option that writes a file, checked before anything is done:
    ``-`` is standard output (a binary format is refused when that is a terminal); an
    existing file is refused (exit 2) unless ``--force``; a directory is refused."""
    if is_stdout(path):
        if binary and sys.stdout.isatty():
            fail(
                f"-: not writing {what or 'a binary file'} to a terminal: "
                "redirect it or name a file"
            )
        return
    if path.is_dir():
        fail(f"{path}: is a directory")
    if path.exists() and not force:
        fail(f"{path}: already exists (give --force to overwrite it)")


def write_output(path: Path, content: bytes | str, *, force: bool, binary: bool = False) -> None:
    """Write ``content`` to ``path`` (or standard output for ``-``) by the rule of
    :func:`check_output`; a file that cannot be written is bad input."""
    check_output(path, force=force, binary=binary)
    data = content.encode() if isinstance(content, str) else content
    if is_stdout(path):
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        with path.open("wb" if force else "xb") as file:
            file.write(data)
    except FileExistsError:
        fail(f"{path}: already exists (give --force to overwrite it)")
    except OSError as e:
        fail(f"{path}: cannot write: {e.strerror or e}")
