"""Command-line glue for the data store and the embedded local model.

The plain functions are what `compasslite.cli` calls:

    data_status(data_dir)                 -> exit code   (`compasslite data status`)
    data_download(names, data_dir, yes)   -> exit code   (`compasslite data download NAMES...`)
    serve_local(port, local_model)        -> None        (`compasslite serve --local`)

Errors are raised as CompassliteError subclasses: the caller prints the message.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm
from rich.table import Table

from .errors import DataError, ServerError

PIPED_WIDTH = 200  # tables written to a pipe or file: wide enough that no column is squeezed


def stdout_console() -> Console:
    """Console for tables on stdout. Piped into `head`, `less` or a log file, rich would assume
    80 columns and fold headers into fragments; a wide fixed width keeps one row per line."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)


console = stdout_console()
err_console = Console(stderr=True)

_STATE_STYLE = {"complete": "green", "partial": "yellow", "missing": "red"}


def _data_dir(data_dir: str | Path | None) -> Path:
    if data_dir:
        return Path(data_dir).expanduser()
    from .data import default_data_dir

    return default_data_dir()


# ---------------------------------------------------------------------------------------
# data status


def data_status(data_dir: str | Path | None = None, names: Sequence[str] | None = None) -> int:
    """Print a table: per dataset, files present and whether they are OpenCompass's exact files."""
    from .datastore import status

    root = _data_dir(data_dir)
    rows = status(root, list(names) if names else None)
    table = Table(title=f"data in {escape(str(root.resolve()))}", title_justify="left")
    for col, justify in (("dataset", "left"), ("state", "left"), ("present", "right"), ("exact", "right"),
                         ("differs", "right"), ("no ref.", "right"), ("first missing / differing file", "left"),
                         ("download from", "left")):  # fmt: skip
        table.add_column(col, justify=justify, no_wrap=col in ("dataset", "state"))
    for row in rows:
        missing = row.missing
        differing = [f.path for f in row.files if f.state == "differs"]
        note = ""
        if missing:
            note = missing[0] + (f" (+{len(missing) - 1})" if len(missing) > 1 else "")
        elif differing:
            note = differing[0] + (f" (+{len(differing) - 1})" if len(differing) > 1 else "")
        style = _STATE_STYLE[row.state]
        table.add_row(
            row.name,
            f"[{style}]{row.state}[/]",
            f"{row.present}/{len(row.files)}",
            str(row.count("exact")) or "",
            str(row.count("differs")),
            str(row.count("no reference")),
            escape(note),
            escape(row.archives[0]) if row.state != "complete" else "",
        )
    console.print(table)
    counts = {s: sum(1 for r in rows if r.state == s) for s in ("complete", "partial", "missing")}
    console.print(
        f"{counts['complete']} complete, {counts['partial']} partial, {counts['missing']} missing. "
        "'exact' = byte-identical to OpenCompass's file (sha256 / git blob id); 'differs' = not; "
        "'no ref.' = no reference digest known.",
        highlight=False,
    )
    if counts["partial"] or counts["missing"]:
        console.print(
            f"Fetch what is missing with: compasslite data download NAME... --data-dir {escape(str(root))}",
            highlight=False,
        )
    return 0


# ---------------------------------------------------------------------------------------
# data download


def data_download(names: Sequence[str], data_dir: str | Path | None = None, yes: bool = False) -> int:
    """Download, verify and install datasets (`all` = every dataset not yet complete)."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from .benchmark import SUITE
    from .datastore import LAYOUTS, download, status

    root = _data_dir(data_dir)
    wanted = list(SUITE) if any(n.lower() == "all" for n in names) else list(names)
    if not wanted:
        raise DataError("give one or more dataset names (or `all`)")
    if not yes:
        rows = status(root, wanted)
        replace = sorted(
            {u for r in rows if r.state == "partial" for u in LAYOUTS[r.name].units if (root / u).exists()}
        )
        if replace:
            question = (
                f"These folders in {root} are incomplete and will be replaced as a whole: "
                f"{', '.join(replace)}. Continue?"
            )
            if not sys.stdin.isatty():
                raise DataError(f"{question[:-10]}; pass --yes to replace them")
            if not Confirm.ask(question, default=False, console=err_console):
                err_console.print("nothing changed")
                return 1
            yes = True

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(label: str, done: int, total: int | None) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total)
            bar.update(tasks[label], completed=done, total=total)

        def log(msg: str) -> None:
            bar.console.print(escape(msg), highlight=False, soft_wrap=True)

        results = download(wanted, root, yes=yes, progress=progress, log=log)
    for r in results:
        where = f" from {r.archive}" if r.archive else ""
        console.print(f"{r.name}: {r.action}{where}", highlight=False)
        for w in r.warnings:
            console.print(f"  [yellow]note:[/] {escape(w)}", highlight=False)
    console.print(f"data dir: {escape(str(root.resolve()))}", highlight=False)
    return 0


# ---------------------------------------------------------------------------------------
# serve --local


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as llama.cpp binds: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def serve_local(port: int, local_model: str | None = None) -> None:
    """Serve the embedded model on 127.0.0.1:PORT in the foreground until Ctrl-C."""
    from .local_model import LocalModelServer

    if port and not _port_free(port):
        raise ServerError(f"port {port} on 127.0.0.1 is already in use; choose another with --port")
    server = LocalModelServer(local_model, port=port, log=sys.stderr)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)  # `kill PID` stops as cleanly as Ctrl-C
    err_console.print(f"starting llama.cpp with {escape(local_model or 'SmolLM2-135M-Instruct')} ...")
    try:
        server.start()
        console.print(
            f"serving [bold]{escape(server.model_name)}[/] at [bold]{escape(server.base_url)}[/] "
            f"({server.parallel} slots x {server.context_length} tokens, {server.threads} thread(s), "
            f"ready in {server.startup_s:.1f} s). Ctrl-C stops.",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  compasslite run --api-base {escape(server.base_url)} --model {escape(server.model_name)} "
            "--datasets gsm8k --limit 10",
            highlight=False,
            soft_wrap=True,
        )
        code = server.wait()
        if code:
            raise ServerError(f"the local model server exited with code {code}")
    except KeyboardInterrupt:
        pass
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            server.stop()
        signal.signal(signal.SIGTERM, previous)
    err_console.print("local model server stopped")
