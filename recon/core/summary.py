"""Compact HTML summaries of results, for a notebook cell that ends with a result object.

``Reconciliation._repr_html_`` and ``Plan._repr_html_`` call ``summary_html``: a title, a few
facts (as-of date, digests) and small count tables — never the rows themselves, whatever the
population.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

_CELL = "text-align:left;padding:1px 10px 1px 0"


def summary_html(title: str, facts: Mapping[str, object],
                 counts: Sequence[tuple[str, Mapping[str, int]]] = ()) -> str:
    """``title``, then ``facts`` as label/value lines, then one count table per (heading, counts)
    side by side (zeros left out)."""
    lines = "".join(f"<tr><th style='{_CELL}'>{html.escape(k)}</th>"
                    f"<td style='{_CELL}'>{html.escape(str(v))}</td></tr>"
                    for k, v in facts.items())
    tables = []
    for heading, numbers in counts:
        rows = "".join(f"<tr><td style='{_CELL}'>{html.escape(name)}</td>"
                       f"<td style='{_CELL};text-align:right'>{count:,}</td></tr>"
                       for name, count in numbers.items() if count)
        total = sum(numbers.values())
        rows += (f"<tr><th style='{_CELL}'>total</th>"
                 f"<th style='{_CELL};text-align:right'>{total:,}</th></tr>")
        tables.append(f"<div style='display:inline-block;vertical-align:top;margin-right:2em'>"
                      f"<b>{html.escape(heading)}</b><table>{rows}</table></div>")
    return (f"<div><p style='font-weight:bold;margin:0 0 0.3em'>{html.escape(title)}</p>"
            f"<table>{lines}</table><div style='margin-top:0.5em'>{''.join(tables)}</div></div>")


def ordered_counts(counts: Mapping[str, int], order: Sequence[str]) -> dict[str, int]:
    """Counts in a display order; names not in it last, sorted."""
    names = [n for n in order if n in counts] + sorted(n for n in counts if n not in order)
    return {name: int(counts[name]) for name in names}
