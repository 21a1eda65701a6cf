"""The quality report of a run: quality.json (every quarantined row and warning) and a readable,
self-contained quality.html."""

from __future__ import annotations

import html
import json
import os
from pathlib import Path

import pandas as pd

from recon.core.quality import QualityResult, quality_json

HTML_ROWS = 5000  # rows listed in quality.html (a page a browser still opens quickly)


def write_quality(result: QualityResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write quality.json and a self-contained, readable quality.html into ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    json_path, html_path = folder / "quality.json", folder / "quality.html"
    data = quality_json(result)
    json_path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    html_path.write_text(render_html(result), encoding="utf-8")
    return [json_path, html_path]


_STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.fail{color:#a00}.ok{color:#070}
.warn{color:#a60}td.reason{max-width:60em;word-break:break-word}"""


def _table(frame: pd.DataFrame, classes: dict[str, str] | None = None) -> str:
    """An HTML table with every cell escaped (cell values come from the user's file)."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = pd.Series("<tr>", index=frame.index, dtype="string")
    for column in frame.columns:
        css = (classes or {}).get(str(column), "")
        opening = f'<td class="{css}">' if css else "<td>"
        text = frame[column].astype("string").fillna("").map(html.escape).astype("string")
        rows = rows + opening + text + "</td>"
    body = (rows + "</tr>").str.cat() if len(frame) else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(result: QualityResult) -> str:
    details = result.details
    title = f"Data quality — {details.get('file') or 'HR extract'}"
    summary = pd.DataFrame([
        {"rule": r["rule"], "column": r["column"], "severity": r["severity"],
         "expectation": r["expectation"],
         "result": "pass" if r["success"] else "FAIL", "failing rows": r["unexpected_count"] or 0}
        for r in details.get("rules", [])
    ], columns=["rule", "column", "severity", "expectation", "result", "failing rows"])
    missing = pd.DataFrame(details.get("missing_columns", []), columns=["column", "needed_by"])
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
        f"<p>{details.get('rows', 0)} rows checked; <span class='fail'>"
        f"{len(result.invalid)} quarantined</span>; <span class='warn'>{len(result.warnings)} "
        f"warnings</span>. Great Expectations "
        f"{html.escape(str(details.get('great_expectations', {}).get('version', '')))}.</p>",
    ]
    if len(missing):
        parts += ["<h2 class='fail'>Missing required columns</h2>", _table(missing)]
    failures = pd.DataFrame(details.get("table_failures", []),
                            columns=["rule", "column", "severity", "message"])
    if len(failures):
        parts += ["<h2 class='fail'>Whole-file failures</h2>", _table(failures)]
    parts += ["<h2>Rules</h2>", _table(summary)]
    for heading, rows, css in (
        ("Quarantined rows", result.invalid.rename_axis("hr_row").reset_index(), "reason"),
        ("Warnings", result.warnings, "message"),
    ):
        shown = f"first {HTML_ROWS} of " if len(rows) > HTML_ROWS else ""
        parts += [f"<h2>{heading} ({shown}{len(rows)}; all in quality.json)</h2>",
                  _table(rows.head(HTML_ROWS), {css: "reason"}) if len(rows)
                  else "<p>None.</p>"]
    parts.append("</body></html>")
    return "\n".join(parts)

