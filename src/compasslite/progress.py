"""Progress per dataset: done/total, failed requests, requests per second, elapsed, ETA.

At a terminal: a bar per dataset. Without one (CI logs, nohup, `| tee`): a plain line every
few seconds and at each dataset's end, on stderr and in logs/run.log.

A dataset's clock (elapsed time and req/s) starts when its first request is sent, not
when the run starts: datasets queued behind others would otherwise show a rate diluted
by time they spent waiting."""

from __future__ import annotations

import logging
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class _Bar(BarColumn):
    """An empty bar for a dataset that has not started (rich pulses it, which looks full)."""

    def render(self, task: Any) -> Any:
        bar = super().render(task)
        bar.pulse = False
        return bar


PLAIN_INTERVAL_S = 5.0


class ProgressBoard:
    def __init__(
        self,
        enabled: bool = True,
        title: str = "",
        console: Console | None = None,
        plain_interval_s: float = PLAIN_INTERVAL_S,
    ):
        self.enabled = enabled
        self.title = title
        console = console or Console(stderr=True)
        self.console = console
        # No terminal: plain lines instead of bars that would print nothing until the end.
        self.plain = enabled and not console.is_terminal
        self.plain_interval_s = plain_interval_s
        self._total: dict[str, int] = {}
        self._last_line = 0.0
        self._tasks: dict[str, Any] = {}
        self._errors: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._start: dict[str, float | None] = {}
        self._last: dict[str, float] = {}  # when the latest request of each dataset finished
        self._asked: dict[str, int] = {}  # requests finished in this run (done includes earlier runs)
        self._progress = (
            Progress(
                TextColumn("[bold]{task.description}"),
                _Bar(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} failed"),
                TextColumn("{task.fields[rps]} req/s"),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
                refresh_per_second=4,
            )
            if enabled and not self.plain
            else None
        )

    def __enter__(self) -> ProgressBoard:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, name: str, total: int, already_done: int = 0) -> None:
        self._total[name] = self._total.get(name, 0) + total
        if name in self._tasks:
            self._done[name] += already_done
            if self._progress is not None:
                self._progress.update(
                    self._tasks[name], total=self._progress.tasks[self._tasks[name]].total + total
                )
                self._progress.advance(self._tasks[name], already_done)
            return
        self._errors[name] = 0
        self._done[name] = already_done
        self._start[name] = None
        if self._progress is not None:
            label = f"{self.title}: {name}" if self.title else name
            self._tasks[name] = self._progress.add_task(label, total=total, errors=0, rps="-", start=False)
            self._progress.advance(self._tasks[name], already_done)
        else:
            self._tasks[name] = None
        if total and already_done >= total:  # finished in an earlier run: shown as done, not waiting
            self.begin(name)

    def begin(self, name: str) -> None:
        """A request of `name` is being sent: start its clock if this is the first."""
        if self._start[name] is not None:
            return
        self._start[name] = time.monotonic()
        if self._progress is not None:
            self._progress.start_task(self._tasks[name])

    def rate(self, name: str) -> float | None:
        """Requests finished per second, from the dataset's first request to its latest reply."""
        start = self._start[name]
        asked = self._asked.get(name, 0)
        if start is None or asked == 0:
            return None
        elapsed = self._last[name] - start
        return asked / elapsed if elapsed > 0 else None

    def line(self, name: str) -> str:
        """One plain progress line: dataset, done/total, rate, failed, elapsed, ETA."""
        done, total = self._done[name], self._total[name]
        rate = self.rate(name)
        start = self._start[name]
        elapsed = time.monotonic() - start if start is not None else 0.0
        left = total - done
        eta = f"{left / rate:.0f} s" if rate and left else ("done" if not left else "-")
        label = f"{self.title}: {name}" if self.title else name
        return (
            f"{label}: {done}/{total} ({100 * done / total if total else 100:.0f}%), "
            f"{f'{rate:.1f}' if rate else '-'} req/s, {self._errors[name]} failed, "
            f"elapsed {elapsed:.0f} s, ETA {eta}"
        )

    def _plain_report(self, name: str) -> None:
        now = time.monotonic()
        finished = self._done[name] >= self._total[name]
        if not finished and now - self._last_line < self.plain_interval_s:
            return
        self._last_line = now
        names = [name] if finished else [n for n in self._total if self._start[n] is not None]
        for n in names:
            text = self.line(n)
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
            logging.getLogger("compasslite").info("progress: %s", text)  # logs/run.log

    def recovered(self, name: str) -> None:
        """A sample counted as failed has been answered by a healing round."""
        self._errors[name] = max(0, self._errors[name] - 1)
        if self._progress is not None:
            self._progress.update(self._tasks[name], errors=self._errors[name])

    def message(self, text: str) -> None:
        """A line about the run as a whole (healing rounds), printed above the bars."""
        if self.enabled:
            label = f"{self.title}: " if self.title else ""
            self.console.print(label + text, markup=False, highlight=False, soft_wrap=True)

    def advance(self, name: str, error: bool = False) -> None:
        self.begin(name)  # a record written without a request (a prompt over the context)
        self._done[name] += 1
        self._asked[name] = self._asked.get(name, 0) + 1
        self._last[name] = time.monotonic()
        if error:
            self._errors[name] += 1
        if self._progress is not None:
            rate = self.rate(name)
            rps = f"{rate:.1f}" if rate is not None else "-"
            self._progress.update(self._tasks[name], advance=1, errors=self._errors[name], rps=rps)
        elif self.plain:
            self._plain_report(name)


class BoardView:
    """One model's part of a shared ProgressBoard (one repeat of it, with --repeats): its
    dataset names carry the model's name. The models of a run are evaluated at the same time
    and rich shows one live display at a time, so they share one board; plain lines name the
    model too."""

    def __init__(self, board: ProgressBoard, title: str):
        self.board = board
        self.title = title

    def _name(self, name: str) -> str:
        return f"{self.title}: {name}" if self.title else name

    def add(self, name: str, total: int, already_done: int = 0) -> None:
        self.board.add(self._name(name), total, already_done)

    def begin(self, name: str) -> None:
        self.board.begin(self._name(name))

    def advance(self, name: str, error: bool = False) -> None:
        self.board.advance(self._name(name), error=error)

    def recovered(self, name: str) -> None:
        self.board.recovered(self._name(name))

    def rate(self, name: str) -> float | None:
        return self.board.rate(self._name(name))

    def line(self, name: str) -> str:
        return self.board.line(self._name(name))

    def message(self, text: str) -> None:
        self.board.message(self._name(text))
