"""What recon's results look like in JupyterLab: charts, drill-down tables, side-by-side views.

The notebooks in ``notebooks/`` call the library for every decision; this module only shapes
results for a person to read (``*_table`` functions return plain DataFrames, ``show_*``
functions display them). The hygiene findings of notebook 4 are in ``recon.hygiene``; the local
stand-in targets in ``recon.testing.local`` (re-exported here).

Output stays small whatever the population (docs/notebooks.md): a table is shown live as a
buckaroo grid whose rows stay in the kernel (search, sort and scroll through every row; only the
visible window reaches the browser), and, in a headless run (papermill, nbclient, nbconvert)
or without buckaroo, as its first rows with the count and the CSV that holds every row. No
output ever holds all the rows of a category.
"""

from __future__ import annotations

import contextlib
import html
import importlib
import io
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from recon.core.approve import Approval
from recon.core.categories import BY_NAME, CATEGORIES, ORDER
from recon.core.categories import CHANGES as CHANGES  # re-exported for the notebooks
from recon.core.config import Config, Policy
from recon.core.limits import limit_checks
from recon.core.normalize import current_frame
from recon.core.plan import Plan
from recon.core.results import Reconciliation
from recon.core.snapshot import Snapshot
from recon.core.views import (  # re-exported: the notebooks call them as nb.*
    ORPHAN_DETAILS as ORPHAN_DETAILS,
)
from recon.core.views import (
    category_table as category_table,
)
from recon.core.views import (
    conflict_views as conflict_views,
)
from recon.core.views import (
    diff_table as diff_table,
)
from recon.core.views import (
    is_manager as is_manager,
)
from recon.core.views import (
    label as label,
)
from recon.core.views import (
    names_by_id as names_by_id,
)
from recon.core.views import (
    orphan_table as orphan_table,
)
from recon.core.views import (
    quarantine_table as quarantine_table,
)
from recon.core.views import (
    readable as readable,
)
from recon.testing.local import LocalTarget as LocalTarget  # re-exported for the notebooks
from recon.testing.local import journal_for as journal_for
from recon.testing.local import start_local_graph as start_local_graph
from recon.testing.local import start_local_scim as start_local_scim
from recon.testing.local import with_entra as with_entra
from recon.testing.local import with_scim as with_scim

# The vocabulary lives in recon.core.categories; the colours of the charts follow its kinds.
CATEGORY_ORDER = ORDER
MEANING = {category.name: category.meaning for category in CATEGORIES}
COLOURS = {"change": "#2f6db5", "person": "#d9822b", "nothing": "#a7adb4"}


# ---- display ---------------------------------------------------------------------------------


def _ipython() -> Any:
    """IPython's display module (untyped: kept behind Any)."""
    return importlib.import_module("IPython.display")


def _display(*objects: Any) -> None:
    _ipython().display(*objects)


def _html(text: str) -> Any:
    return _ipython().HTML(text)


def setup() -> None:
    """Readable pandas defaults for the cells that print a frame themselves."""
    pd.set_option("display.max_colwidth", 80)
    pd.set_option("display.max_columns", 40)
    pd.set_option("display.max_rows", 20)


#: ``RECON_TABLES=live`` or ``static`` overrides the detection of a live front end.
TABLES_MODE = "RECON_TABLES"
STATIC_STYLE = ("border-collapse:collapse;font-size:12px", "text-align:left;padding:2px 8px;"
                "border-bottom:1px solid #ddd;white-space:nowrap")


def live_front_end() -> bool:
    """True when a person is looking at a live JupyterLab (or Notebook 7) page.

    jupyter_server starts every notebook kernel with ``JPY_SESSION_NAME`` set; papermill,
    nbclient and ``nbconvert --execute`` do not. No comm round trip can tell during Run All (its
    answer arrives after the queued cells), so this is the reliable test.
    """
    mode = os.environ.get(TABLES_MODE, "auto").strip().lower()
    if mode in ("live", "static"):
        return mode == "live"
    return bool(os.environ.get("JPY_SESSION_NAME"))


def _static_page(shown: pd.DataFrame) -> str:
    table_style, cell_style = STATIC_STYLE
    head = "".join(f"<th style='{cell_style}'>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td style='{cell_style}'>{html.escape(str(v))}</td>" for v in row)
        + "</tr>" for row in shown.itertuples(index=False))
    return (f"<table style='{table_style}'><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _summary_line(total: int, shown: int, csv: Path | None, note: str) -> str:
    where = f"; every row: <code>{html.escape(str(csv))}</code>" if csv is not None else ""
    part = f", the first {shown} shown" if shown < total else ""
    extra = f" ({html.escape(note)})" if note else ""
    return f"<p style='margin:0 0 0.3em;color:#555'>{total:,} rows{part}{where}{extra}</p>"


#: Up to this many rows a table is shown whole, as plain HTML, live or not.
SMALL_TABLE = 50


def _grid(shown: pd.DataFrame) -> Any:
    """A buckaroo grid (rows stay in the kernel), or None when buckaroo is not installed."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # buckaroo announces itself on import
            buckaroo = importlib.import_module("buckaroo")
            with contextlib.suppress(Exception):  # never the formatter of every DataFrame
                buckaroo.disable()
    except ImportError:
        return None
    return buckaroo.BuckarooInfiniteWidget(shown, pinned_rows=[])


def show_table(frame: pd.DataFrame, caption: str | None = None, *, rows: int = 10,
               csv: str | Path | None = None, note: str = "") -> None:
    """A table a person can search, sort and page through, whatever its size.

    Live, a buckaroo grid (every row, kept in the kernel); headless, or without buckaroo, the
    first ``rows`` rows; a table of up to ``SMALL_TABLE`` rows whole, as plain HTML. Either way
    a line gives the count and ``csv``, the file that holds every row (``note`` says how to
    find them there, e.g. "category = joiner"); when it does not exist yet and the table is
    longer than what is shown, it is written.
    """
    title = f"<p style='font-weight:bold;margin:0.8em 0 0.2em'>{html.escape(caption)}</p>" \
        if caption else ""
    if frame.empty:
        _display(_html(title + "<p><i>Nothing to show.</i></p>"))
        return
    path = Path(csv) if csv is not None else None
    if path is not None and not path.exists() and len(frame) > rows:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False, encoding="utf-8-sig")
    small = len(frame) <= max(rows, SMALL_TABLE)
    grid = _grid(readable(frame)) if live_front_end() and not small else None
    shown = len(frame) if grid is not None or small else rows
    _display(_html(title + _summary_line(len(frame), shown, path, note)))
    _display(grid if grid is not None else _html(_static_page(readable(frame.head(shown)))))


def show_figure(figure: Any) -> None:
    """Show a matplotlib figure as a PNG (the same in JupyterLab, headless runs and HTML)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _display(_ipython().Image(data=buffer.getvalue()))


def show_facts(facts: Mapping[str, Any], title: str | None = None) -> None:
    """A short two-column list: what was loaded, from where, how many."""
    rows = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(str(v))}</td></tr>"
                   for k, v in facts.items())
    head = f"<h4>{html.escape(title)}</h4>" if title else ""
    _display(_html(f"{head}<table>{rows}</table>"))


def show_files(paths: Iterable[Path], title: str | None = None) -> None:
    """The files a step wrote, with their sizes."""
    show_facts({str(path): f"{path.stat().st_size:,} bytes" for path in paths}, title)


def show_message(text: str, *, ok: bool = True) -> None:
    """One line in green (all good) or amber (look at this)."""
    colour = "#1e7b34" if ok else "#b35900"
    _display(_html(f"<p style='color:{colour};font-weight:bold'>{html.escape(text)}</p>"))


def config_facts(config: Config, path: str | Path) -> dict[str, Any]:
    """What a config points at, in a few lines."""
    target = next(k for k in ("scim", "entra", "file") if getattr(config.target, k) is not None)
    where = {"scim": lambda: config.target.scim.url if config.target.scim else "",
             "entra": lambda: config.target.entra.graph_url if config.target.entra else "",
             "file": lambda: config.target.file.name if config.target.file else ""}[target]()
    return {"config": str(path), "HR file": config.source_path.name,
            "worker key column": config.source.key, "as-of date": config.as_of or "today",
            "target": f"{target}: {where}", "attributes mapped": len(config.attributes),
            "match rules (in order)": " → ".join(label(m.target) for m in config.match)}


def snapshot_facts(snapshot: Snapshot) -> dict[str, Any]:
    """How many accounts a snapshot holds, enabled and disabled."""
    enabled = int(current_frame(snapshot, [])["active"].sum())  # no dicts for a columnar file
    return {"accounts": snapshot.count, "enabled": enabled,
            "disabled": snapshot.count - enabled, "source": snapshot.source,
            "taken at": snapshot.taken_at}


def failed_checks(invalid: pd.DataFrame) -> pd.Series:
    """Quarantined rows per failed check (a row failing two checks counts for both)."""
    return invalid["rule"].astype("string").str.split("; ").explode().value_counts()


# ---- charts ----------------------------------------------------------------------------------


def _whole_numbers(axes: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))


def _kind(category: str) -> str:
    return BY_NAME[category].kind if category in BY_NAME else "nothing"


def category_figure(counts: pd.Series, title: str = "Rows per category") -> Any:
    """Horizontal bars, one per category, coloured by what happens to them."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    known = [c for c in CATEGORY_ORDER if c in counts.index]
    order = known + sorted(str(c) for c in counts.index if c not in CATEGORY_ORDER)
    values = counts.reindex(order).fillna(0).astype(int)
    figure = Figure(figsize=(7.5, 0.38 * len(values) + 1.2))
    axes = figure.subplots()
    bars = axes.barh(list(values.index)[::-1], list(values)[::-1],
                     color=[COLOURS[_kind(c)] for c in values.index][::-1])
    axes.bar_label(bars, padding=3, fontsize=9)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel("rows")
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xlim(0, max(int(values.max()), 1) * 1.12)
    _whole_numbers(axes)
    axes.legend(handles=[Patch(color=COLOURS["change"], label="recon plans a change"),
                         Patch(color=COLOURS["person"], label="a person decides / fixes"),
                         Patch(color=COLOURS["nothing"], label="nothing to do")],
                loc="lower right", fontsize=8, frameon=False)
    return figure


def bar_figure(counts: pd.Series, title: str, xlabel: str = "rows") -> Any:
    """A plain horizontal bar chart of counts, largest first."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 0.38 * max(len(counts), 1) + 1.2))
    axes = figure.subplots()
    ordered = counts.sort_values()
    bars = axes.barh([str(i) for i in ordered.index], list(ordered), color=COLOURS["change"])
    axes.bar_label(bars, padding=3, fontsize=9)
    axes.set_title(title, loc="left", fontsize=11)
    axes.set_xlabel(xlabel)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_xlim(0, max(int(ordered.max()) if len(ordered) else 1, 1) * 1.15)
    _whole_numbers(axes)
    return figure


def show_bars(counts: pd.Series, title: str, xlabel: str = "rows") -> None:
    if counts.empty:
        show_message(f"{title}: nothing to show.")
        return
    show_figure(bar_figure(counts, title, xlabel))


def show_categories(counts: pd.Series, title: str = "Rows per category") -> None:
    show_figure(category_figure(counts, title))


def top_values(values: pd.Series, top: int = 12) -> pd.Series:
    """Counts of the most frequent values; the rest as "(other)", empty cells as "(empty)"."""
    counts = values.fillna("(empty)").astype(str).value_counts()
    if len(counts) > top:
        rest = int(counts.iloc[top - 1:].sum())
        counts = pd.concat([counts.iloc[:top - 1], pd.Series({"(other)": rest})])
    return counts


def profile_figure(frame: pd.DataFrame, columns: Iterable[str], *, top: int = 12) -> Any:
    """Bar charts side by side, one per HR column: how many rows hold each value."""
    from matplotlib.figure import Figure

    names = [c for c in dict.fromkeys(columns) if c in frame.columns]
    counted = {name: top_values(frame[name], top) for name in names}
    tallest = max((len(c) for c in counted.values()), default=1)
    figure = Figure(figsize=(5.5 * max(len(names), 1), 0.28 * tallest + 1.0))
    grid = figure.subplots(1, max(len(names), 1), squeeze=False)[0]
    for axes, (name, counts) in zip(grid, counted.items(), strict=False):
        bars = axes.barh(list(counts.index)[::-1], list(counts)[::-1], height=0.7,
                         color=COLOURS["change"])
        axes.bar_label(bars, padding=2, fontsize=8)
        axes.set_title(name, loc="left", fontsize=10)
        axes.tick_params(axis="y", labelsize=8)
        axes.spines[["top", "right"]].set_visible(False)
        axes.set_xlim(0, int(counts.max()) * 1.2)
        axes.set_ylim(len(counts) - tallest - 0.6, len(counts) - 0.4)  # bars from the top
        _whole_numbers(axes)
    figure.tight_layout()
    return figure


def hr_profile_columns(config: Config, columns: Iterable[str]) -> list[str]:
    """The status column of the config first, then the given columns."""
    status = [config.source.status.column] if config.source.status else []
    return list(dict.fromkeys([*status, *columns]))


def show_profiles(frame: pd.DataFrame, columns: Iterable[str], *, top: int = 12,
                  per_row: int = 2) -> None:
    """Profiles of the given HR columns, two charts to a row."""
    names = [c for c in dict.fromkeys(columns) if c in frame.columns]
    for start in range(0, len(names), per_row):
        show_figure(profile_figure(frame, names[start:start + per_row], top=top))


# ---- tables over a reconciliation ------------------------------------------------------------


def categories_present(reconciliation: Reconciliation) -> list[str]:
    """The categories of a run, in the order of the chart (changes first)."""
    present = set(reconciliation.identities["category"].dropna().astype(str))
    return [c for c in CATEGORY_ORDER if c in present] + sorted(present - set(CATEGORY_ORDER))


def category_summary(reconciliation: Reconciliation) -> pd.DataFrame:
    """Rows per category with what each category means."""
    counts = reconciliation.counts()
    names = categories_present(reconciliation)
    return pd.DataFrame({"category": names,
                         "rows": [int(counts.get(n, 0)) for n in names],
                         "what it means": [MEANING.get(n, "") for n in names]})


def quality_message(invalid: pd.DataFrame, rows: int) -> None:
    """One line: how many rows are quarantined."""
    if invalid.empty:
        show_message(f"Every one of the {rows} HR rows passes the data-quality checks.")
    else:
        show_message(f"{len(invalid)} of {rows} HR rows fail a check and are quarantined.",
                     ok=False)


def show_conflicts(reconciliation: Reconciliation, config: Config, *, limit: int = 10) -> None:
    """Side-by-side views of the first ``limit`` conflicts; cells that differ from what HR wants
    are highlighted. Every conflict is in identities.csv."""
    total = int((reconciliation.identities["category"] == "conflict").sum())
    views = conflict_views(reconciliation, config, limit=limit)
    if not views:
        show_message("No conflicts: every worker matched at most one account.")
        return
    if len(views) < total:
        show_message(f"{total:,} rows in conflict; the first {len(views)} HR rows are shown "
                     "side by side (every one: identities.csv, category = conflict).", ok=False)
    for title, view in views:
        def mark(column: pd.Series, wanted: pd.Series = view["HR wants"]) -> list[str]:
            if column.name == "HR wants":
                return ["font-weight:bold"] * len(column)
            return ["background-color:#fde9d9" if (a != w and w and not k.startswith(
                ("account", "target"))) else "" for a, w, k in zip(
                    column, wanted, column.index, strict=True)]
        styled = view.style.apply(mark).set_caption(title).set_table_styles(
            [{"selector": "caption", "props": "caption-side:top;font-weight:bold;"
              "text-align:left;font-size:1.05em"},
             {"selector": "td, th", "props": "text-align:left;padding:2px 10px"}])
        _display(styled)


# ---- approve, limits, push -------------------------------------------------------------------


def plan_overview(plan: Plan) -> pd.DataFrame:
    """Operations per category and action, with their risk."""
    ops = plan.ops
    if ops.empty:
        return pd.DataFrame(columns=["category", "action", "risk", "operations"])
    return (ops.groupby(["category", "action", "risk"]).size().rename("operations")
            .reset_index().sort_values("operations", ascending=False, ignore_index=True))


def approved_table(plan: Plan, approval: Approval) -> pd.DataFrame:
    """Planned and approved operations per category and action."""
    ops = plan.ops.assign(approved=plan.ops["op_id"].isin(list(approval.op_ids)))
    table = ops.groupby(["category", "action"]).agg(
        planned=("op_id", "size"), approved=("approved", "sum")).reset_index()
    return table.sort_values(["approved", "planned"], ascending=False, ignore_index=True)


def limits_table(plan: Plan, approval: Approval, policy: Policy, accounts: int) -> pd.DataFrame:
    """The push's safety limits next to what the approval would do (recon.core.limits)."""
    approved = plan.ops[plan.ops["op_id"].isin(list(approval.op_ids))]
    checks = limit_checks(approved, policy, lambda: accounts)
    table = pd.DataFrame({
        "limit": [f"{check.what} per push" if "%" not in check.what else check.what
                  for check in checks],
        "approved": [check.count for check in checks],
        "allowed": [check.allowed for check in checks]})
    table["within the limit"] = [
        "yes" if check.ok else "NO — the push will refuse" for check in checks]
    return table


def counts_line(counts: pd.Series, what: str = "") -> str:
    """``succeeded 47, stale 1`` (zeros left out)."""
    parts = [f"{name} {int(count)}" for name, count in counts.items() if int(count)]
    return (f"{what}: " if what else "") + (", ".join(parts) or "nothing")


def results_table(results: pd.DataFrame, reconciliation: Reconciliation) -> pd.DataFrame:
    """Push (or verify) results with the person's name in front."""
    people = reconciliation.identities.dropna(subset=["hr_key"]).drop_duplicates("hr_key")
    names = pd.Series(people["display_name"].to_numpy(), index=people["hr_key"].to_numpy())
    table = results.copy()
    table.insert(0, "who", table["hr_key"].map(names))
    table["op_id"] = table["op_id"].str.slice(0, 12)
    return table


def _progress_html(done: int, total: int, label_text: str) -> str:
    share = 100.0 * done / max(total, 1)
    return (f"<div style='font-family:sans-serif'>{html.escape(label_text)} "
            f"<progress value='{done}' max='{max(total, 1)}' style='width:24em'></progress> "
            f"{done} / {total} ({share:.0f}%)</div>")


def run_with_progress(work: Callable[[], Any], count_done: Callable[[], int], total: int,
                      label_text: str = "push", *, interval: float = 0.2) -> Any:
    """Run ``work`` in a thread, showing ``count_done()`` of ``total`` as a bar until it ends."""
    handle = _display_handle(_progress_html(0, total, label_text))
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:  # re-raised in the caller's thread
            outcome["error"] = error

    thread = threading.Thread(target=target, name="recon-notebook-work", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(interval)
        handle.update(_html(_progress_html(min(count_done(), total), total, label_text)))
    if "error" in outcome:
        raise outcome["error"]
    handle.update(_html(_progress_html(total, total, label_text)))
    return outcome.get("value")


def _display_handle(text: str) -> Any:
    return _ipython().display(_html(text), display_id=True)


def journal_counter(journal_path: str | Path, op_ids: Iterable[str]) -> Callable[[], int]:
    """How many of ``op_ids`` the push journal has finished (read from its SQLite file)."""
    import sqlite3

    wanted = set(op_ids)

    def count() -> int:
        if not Path(journal_path).exists():
            return 0
        try:
            with sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True, timeout=1) as db:
                rows = db.execute("SELECT op_id FROM ops WHERE status != 'pending'").fetchall()
        except sqlite3.Error:
            return 0
        return sum(1 for (op_id,) in rows if op_id in wanted)

    return count
