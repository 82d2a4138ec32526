"""The one place that prints: a rich console for messages (stderr) and results (stdout)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterable, Iterator, Sequence

from rich.console import Console
from rich.table import Table

# Messages, warnings and progress go to stderr so that stdout stays clean for results and --json.
err = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)

VERBOSITY = {"level": 0}  # -1 quiet, 0 normal, 1+ verbose


def set_verbosity(level: int) -> None:
    VERBOSITY["level"] = level


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Only results and errors inside the block (as under `pbr -q`), the verbosity before it afterwards."""
    level = VERBOSITY["level"]
    VERBOSITY["level"] = -1
    try:
        yield
    finally:
        VERBOSITY["level"] = level


@contextlib.contextmanager
def results_to_stderr() -> Iterator[None]:
    """Results printed inside the block go to stderr: for a command whose stdout is one JSON object."""
    saved = getattr(out, "_file", None)  # None (the default): whatever sys.stdout is at each print
    out.file = sys.stderr
    try:
        yield
    finally:
        out.file = saved


def verbose() -> bool:
    return VERBOSITY["level"] > 0


def info(message: str) -> None:
    if VERBOSITY["level"] >= 0:
        err.print(message, markup=False)


def notice(message: str) -> None:
    """A one-line notice the user should see even when it is not an error (e.g. random init); not wrapped."""
    if VERBOSITY["level"] >= 0:
        err.print(f"note: {message}", style="cyan", markup=False, soft_wrap=True)


def warn(message: str) -> None:
    """One line, however long: not wrapped at the terminal's width (a log or grep sees the whole warning)."""
    err.print(f"warning: {message}", style="yellow", markup=False, soft_wrap=True)


def debug(message: str) -> None:
    if VERBOSITY["level"] > 0:
        err.print(message, style="dim", markup=False)


def result(text: str) -> None:
    """One line of a command's result on stdout, printed as written (no markup, no highlighting)."""
    out.print(text, markup=False, highlight=False)


def print_json(obj: Any) -> None:
    """One JSON object on stdout (machine-readable output of every reporting command); strict JSON: a NaN or
    infinite value is an OutputError naming its key, and nothing is printed."""
    from .strict_json import dumps

    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table on stdout; every title and cell printed as written (a file name or dialogue holding "[/red]"
    is text, not rich markup)."""
    from rich.text import Text

    table = Table(title=None if title is None else Text(title), title_justify="left")
    for index, column in enumerate(columns):
        table.add_column(Text(str(column)), justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*[Text(str(cell)) for cell in row])
    out.print(table)


def progress(
    iterable=None,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    disable: bool | None = None,
    initial: int = 0,
):
    """A tqdm progress bar on stderr that shows the rate; hidden when quiet or not a terminal-less pipe."""
    from tqdm.auto import tqdm

    if disable is None:
        # None lets tqdm hide the bar when stderr is not a terminal (logs, CI); quiet hides it always
        disable = True if VERBOSITY["level"] < 0 else None
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        disable=disable,
        file=sys.stderr,
        initial=initial,
        dynamic_ncols=True,
        mininterval=0.5,
        leave=False,
    )


class StageBars:
    """Progress bars for a library's `on_progress(stage, done, total)`: one bar per stage, closed when the next
    starts."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = progress(total=total, desc=stage)
        self.bar.update(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.stage, self.bar = None, None
