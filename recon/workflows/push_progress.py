"""The progress bar of a push: a rich bar on stderr that worker threads advance, or nothing."""

from __future__ import annotations

import threading
from typing import Any


class ProgressBar:
    """``with ProgressBar(enabled, total) as meter: … meter.advance()`` (thread-safe)."""

    def __init__(self, enabled: bool, total: int, label: str = "push") -> None:
        self.enabled = enabled and total > 0
        self.total = total
        self.label = label
        self.bar: Any = None
        self.task: Any = None
        self._lock = threading.Lock()

    def __enter__(self) -> ProgressBar:
        if not self.enabled:
            return self
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress(self.label, BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.bar.__enter__()
        self.task = self.bar.add_task(self.label, total=self.total)
        return self

    def advance(self) -> None:
        if self.bar is not None:
            with self._lock:
                self.bar.advance(self.task)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
