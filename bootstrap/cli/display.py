"""Progress for long runs: a live bar per phase on a terminal, one line per host elsewhere."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..runner import Phase


class ConsoleProgress:
    """Implements the runner's Progress protocol on stderr."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.live = self.console.is_terminal
        self._bar: Progress | None = None
        self._task = None

    def phase_started(self, phase: Phase, hosts: int) -> None:
        if self.live:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task(phase.title, total=hosts)
        else:
            self.console.print(f"== {phase.title} ({hosts} host(s))")

    def host_done(self, phase: Phase, host: str, ok: bool, detail: str = "") -> None:
        mark = "[green]ok[/]" if ok else "[red]FAILED[/]"
        line = f"  {mark} {escape(host)}" + (f": {escape(detail)}" if detail else "")
        if self._bar is not None and self._task is not None:
            self._bar.advance(self._task)
            self._bar.console.print(line)
        else:
            self.console.print(line)

    def phase_finished(self, phase: Phase, seconds: float) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        self.console.print(f"   {phase.title}: done in {seconds:.1f}s")
