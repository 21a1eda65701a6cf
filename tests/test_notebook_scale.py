"""Notebooks stay light at any population (issue 22): no output holds every row of a table.

Headless (papermill, nbclient, nbconvert) a table is its first rows, the count and the CSV that
holds every row; live in JupyterLab it is a buckaroo grid whose rows stay in the kernel. Result
objects typed on their own show counts and digests, never rows.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon import notebook as nb

ROOT = Path(__file__).resolve().parent.parent


def many(rows: int) -> pd.DataFrame:
    return pd.DataFrame({
        "hr_key": pd.Series([f"E{n:07d}" for n in range(rows)], dtype="string"),
        "display_name": pd.Series([f"Person Nr {n}" for n in range(rows)], dtype="string"),
        "category": pd.Series(["drift"] * rows, dtype="string"),
        "active": [n % 2 == 0 for n in range(rows)],
    })


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What show_table hands to IPython's display."""
    captured: list[Any] = []
    monkeypatch.setattr(nb, "_display", lambda *objects: captured.extend(objects))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    monkeypatch.delenv(nb.TABLES_MODE, raising=False)
    return captured


def html_of(objects: list[Any]) -> str:
    return "".join(getattr(o, "data", "") or "" for o in objects)


def test_headless_a_table_is_its_first_rows_the_count_and_the_file(shown: list[Any],
                                                                   tmp_path: Path) -> None:
    frame = many(100_000)
    nb.show_table(frame, "Drift", rows=10, csv=tmp_path / "drift.csv")
    page = html_of(shown)
    assert "100,000 rows, the first 10 shown; every row:" in page and "drift.csv" in page
    assert page.count("<tr>") == 1 + 10 and "Person Nr 9<" in page and "Person Nr 10<" not in page
    assert len(page) < 5_000
    written = pd.read_csv(tmp_path / "drift.csv", encoding="utf-8-sig")
    assert len(written) == 100_000  # every row is in the file the page names


def test_a_named_file_that_exists_is_not_rewritten(shown: list[Any], tmp_path: Path) -> None:
    (tmp_path / "identities.csv").write_text("kept\n", encoding="utf-8")
    nb.show_table(many(50), "Joiners", csv=tmp_path / "identities.csv", note="category = joiner")
    assert "(category = joiner)" in html_of(shown)
    assert (tmp_path / "identities.csv").read_text(encoding="utf-8") == "kept\n"


def test_the_front_end_is_detected_from_the_jupyter_server_session(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(nb.TABLES_MODE, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert not nb.live_front_end()  # papermill, nbclient: no session
    monkeypatch.setenv("JPY_SESSION_NAME", "/work/notebooks/02_reconcile_and_review.ipynb")
    assert nb.live_front_end()
    monkeypatch.setenv(nb.TABLES_MODE, "static")
    assert not nb.live_front_end()


@pytest.mark.skipif(importlib.util.find_spec("buckaroo") is None, reason="needs buckaroo")
def test_live_a_table_is_a_grid_whose_rows_stay_in_the_kernel(
        shown: list[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(nb.TABLES_MODE, "live")
    nb.show_table(many(200_000), "Drift")
    grid = shown[-1]
    assert type(grid).__name__ == "BuckarooInfiniteWidget"
    assert "200,000 rows; every row" not in html_of(shown[:-1])  # no "first N shown": all of it
    state = json.dumps(grid.get_state(), default=lambda value: f"<{len(value)} bytes>"
                       if isinstance(value, bytes | memoryview) else str(value))
    assert "Person Nr 150000" not in state  # windows are fetched on demand
    assert len(state) < 3_000_000  # the JavaScript bundle, not the rows


def test_results_typed_on_their_own_show_counts_not_rows(sample_run: Any) -> None:
    _, result, plan = sample_run
    page = result._repr_html_()
    assert "rows per category" in page and "in_sync" in page and str(result.meta.as_of) in page
    assert result.meta.snapshot_digest[:16] in page
    assert "operations per action" in plan._repr_html_() and plan.digest[:16] in plan._repr_html_()
    assert len(page) < 10_000 and "Reconciliation(" in repr(result) and "Plan(" in repr(plan)
    assert not any(str(name) in page for name in result.identities["display_name"].dropna()[:50])


# ---- the notebooks themselves on a generated 200,000-person pair ------------------------------


def generated(size: int, folder: Path) -> Path:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        generate = importlib.import_module("generate")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    generate.generate(size, folder)
    return folder / "recon.yaml"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_load_and_check", "02_reconcile_and_review"])
def test_a_notebook_on_200000_people_saves_under_5_mb(name: str, tmp_path_factory: Any,
                                                      kernel: str) -> None:
    from tests.test_notebooks import execute

    data = tmp_path_factory.getbasetemp() / "people-200k"
    config = data / "recon.yaml" if (data / "recon.yaml").exists() else generated(200_000, data)
    out = tmp_path_factory.mktemp(name)
    execute(name, out, kernel, config_path=str(config))
    size = (out / f"{name}.out.ipynb").stat().st_size
    assert size < 5 * 1024 * 1024, f"{name}: {size:,} bytes"
