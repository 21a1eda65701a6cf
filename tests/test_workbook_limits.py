"""A run too large for Excel: the workbook is refused in one line, the run folder still written."""

from __future__ import annotations

from pathlib import Path

import pytest

from recon.cli import reconcile_command
from recon.errors import OutputError
from recon.io import workbook_cells
from recon.io.workbook import write_workbook
from tests.conftest import SAMPLES
from tests.test_workbook import PLAN, RUN

# An abandoned write-only sheet must be closed in order, not left to the garbage collector.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")



def test_a_sheet_past_excels_row_limit_is_refused_and_nothing_saved(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook_cells, "EXCEL_MAX_ROWS", 5)
    path = tmp_path / "report.xlsx"
    with pytest.raises(OutputError, match=r"report\.xlsx: the \w+ sheet would need [\d,]+ rows; "
                                          r"Excel holds 5 per sheet"):
        write_workbook(path, RUN, PLAN)
    assert not path.exists()


def test_reconcile_writes_the_run_folder_and_says_why_there_is_no_workbook(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(workbook_cells, "EXCEL_MAX_ROWS", 50)
    out = tmp_path / "run"
    reconcile_command(SAMPLES / "recon.yaml", out, as_of=None, insecure=False)
    assert (out / "identities.csv").is_file() and (out / "plan.json").is_file()
    assert not (out / "report.xlsx").exists()
    captured = capsys.readouterr()
    printed = " ".join((captured.out + captured.err).split())
    assert "not written:" in printed and "Excel holds 50 per sheet" in printed
