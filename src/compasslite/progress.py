"""Progress bars per dataset: done/total, failed requests, requests per second."""

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
        self._start: dict[str, float] = {}
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
        self._start[name] = time.monotonic()
        if self._progress is not None:
            label = f"{self.title}: {name}" if self.title else name
            self._tasks[name] = self._progress.add_task(label, total=total, errors=0, rps="-")
            self._progress.advance(self._tasks[name], already_done)
        else:
            self._tasks[name] = None

    def advance(self, name: str, error: bool = False) -> None:
        self._done[name] += 1
        if error:
            self._errors[name] += 1
        if self._progress is not None:
            elapsed = time.monotonic() - self._start[name]
            rps = f"{self._done[name] / elapsed:.1f}" if elapsed > 0 else "-"
            self._progress.update(self._tasks[name], advance=1, errors=self._errors[name], rps=rps)
