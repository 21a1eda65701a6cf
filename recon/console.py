"""What the CLI and the demo print: count tables, one line per stage, warnings.

Stage lines and tables go to stdout (a scheduler's log); warnings and errors to stderr. When
stdout is not a terminal, rich prints plain text (no colour, no cursor movement).
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err = Console(stderr=True)


def print_counts(counts: dict[str, int], title: str = "Categories", *,
                 out: Console | None = None) -> None:
    """A count per name, and the total, as a small table."""
    table = Table(title=title)
    table.add_column("category")
    table.add_column("count", justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    table.add_row("[bold]total[/bold]", f"[bold]{sum(counts.values())}[/bold]")
    (out or console).print(table)


class StageLines:
    """Prints ``read HR      1,000 rows, 16 columns from workers.csv   (0.2 s)`` per stage."""

    def __init__(self, *, quiet: bool = False, out: Console | None = None) -> None:
        self.quiet = quiet
        self.out = out or console

    def __call__(self, stage: str, detail: str, seconds: float) -> None:
        if not self.quiet:
            self.out.print(Text.assemble((f"{stage:<12}", "bold"), " ", detail,
                                         (f" ({seconds:.1f} s)", "dim")), soft_wrap=True)


# Messages hold user data ("[Employee ID]", paths): printed as text, never as rich markup.

def say(message: str) -> None:
    """One line on stdout."""
    console.print(Text(message), soft_wrap=True)


def tell(message: str) -> None:
    """One line on stderr (a per-op detail)."""
    err.print(Text(message), soft_wrap=True)


def warn(message: str) -> None:
    """One warning line on stderr."""
    err.print(Text.assemble(("warning:", "yellow"), " ", message), soft_wrap=True)


def error(message: str) -> None:
    """The one error line on stderr."""
    err.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True)
