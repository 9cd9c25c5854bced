"""Progress bars per dataset: done/total, failed requests, requests per second.

A dataset's clock (elapsed time and req/s) starts when its first request is sent, not
when the run starts: datasets queued behind others would otherwise show a rate diluted
by time they spent waiting."""

from __future__ import annotations

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


class ProgressBoard:
    def __init__(self, enabled: bool = True, title: str = "", console: Console | None = None):
        self.enabled = enabled
        self.title = title
        self._tasks: dict[str, Any] = {}
        self._errors: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._start: dict[str, float | None] = {}
        self._last: dict[str, float] = {}  # when the latest request of each dataset finished
        self._progress = (
            Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[errors]} failed"),
                TextColumn("{task.fields[rps]} req/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=console or Console(stderr=True),
                transient=False,
                refresh_per_second=4,
            )
            if enabled
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
        if name in self._tasks:
            if self._progress is not None:
                self._progress.update(
                    self._tasks[name], total=self._progress.tasks[self._tasks[name]].total + total
                )
                self._progress.advance(self._tasks[name], already_done)
            return
        self._errors[name] = 0
        self._done[name] = 0
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
        if start is None or self._done[name] == 0:
            return None
        elapsed = self._last[name] - start
        return self._done[name] / elapsed if elapsed > 0 else None

    def advance(self, name: str, error: bool = False) -> None:
        self.begin(name)  # a record written without a request (a prompt over the context)
        self._done[name] += 1
        self._last[name] = time.monotonic()
        if error:
            self._errors[name] += 1
        if self._progress is not None:
            rate = self.rate(name)
            rps = f"{rate:.1f}" if rate is not None else "-"
            self._progress.update(self._tasks[name], advance=1, errors=self._errors[name], rps=rps)
