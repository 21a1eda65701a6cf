"""What the CLI and the demo print: one place for the terminal's tables and messages."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

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
