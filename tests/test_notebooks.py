"""The analyst notebooks: committed clean, paired with their .py, and run top to bottom.

Each notebook is executed headless with papermill, with its default parameters (only the run
folder moved to a temporary one), against the bundled samples: notebook 3 starts its own
scim2-server on loopback and notebook 4 the loopback Graph test server. Any cell error fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ["01_load_and_check", "02_reconcile_and_review", "03_approve_push_verify",
         "04_entra_hygiene", "05_migration_waves"]
WRITES = {  # what each run leaves in its run folder
    "01_load_and_check": ["quarantine.csv"],
    "02_reconcile_and_review": ["identities.csv", "diffs.csv", "plan.json", "meta.json"],
    "03_approve_push_verify": ["review.xlsx", "approval.json", "evidence.xlsx"],
    "04_entra_hygiene": ["access_review.xlsx", "access_review_leavers_still_enabled.csv"],
    "05_migration_waves": [  # one folder per run (a pushed run folder is evidence)
        "*/pilot/waves.json", "*/pilot/journal.sqlite", "*/pilot/verification.csv",
        "*/pilot-undo/undo.csv", "*/pilot-undo/journal.sqlite", "*/pilot-undo/report.xlsx"],
}


def execute(name: str, out: Path, kernel: str, **parameters: Any) -> Any:
    import papermill

    return papermill.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"), str(out / f"{name}.out.ipynb"),
        parameters={"run_dir": str(out / "run"), **parameters}, cwd=str(NOTEBOOKS),
        kernel_name=kernel, progress_bar=False, log_output=False)


@pytest.mark.parametrize("name", NAMES)
def test_committed_notebook_has_no_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.outputs == [] for cell in code), "commit notebooks without outputs"
    assert all(cell.execution_count is None for cell in code), "clear the execution counts"
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell: parameters"
    assert "config_path" in code[0].source and "run_dir" in code[0].source


@pytest.mark.parametrize("name", NAMES)
def test_opening_a_notebook_does_not_mark_it_modified(name: str) -> None:
    """JupyterLab writes the kernel's language_info into a notebook when it starts the kernel:
    a notebook without it, or with another one, opens marked modified (checked in JupyterLab
    4.6.6 with headless Chromium). The committed notebooks carry the project Python's own."""
    import platform

    from ipykernel.ipkernel import IPythonKernel

    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    committed = notebook.metadata.get("language_info")
    assert committed is not None and committed["name"] == "python"
    if committed["version"] != platform.python_version():
        pytest.skip(f"committed for Python {committed['version']}, this is "
                    f"{platform.python_version()}")
    assert committed == IPythonKernel.language_info


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_paired_with_its_percent_script(name: str) -> None:
    import jupytext

    script = jupytext.read(NOTEBOOKS / "scripts" / f"{name}.py")
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert [(c.cell_type, c.source) for c in script.cells] == [
        (c.cell_type, c.source) for c in notebook.cells
    ], f"run: jupytext --sync notebooks/scripts/{name}.py"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_on_the_samples(name: str, tmp_path: Path, kernel: str) -> None:
    execute(name, tmp_path, kernel)

    for file in WRITES[name]:
        assert list((tmp_path / "run").glob(file)), file
    if name == "03_approve_push_verify":  # a fresh local server: a journal of its own
        assert list((tmp_path / "run").glob("journal-local-*.sqlite"))


@pytest.mark.slow
@pytest.mark.integration
def test_approve_from_the_auditors_workbook(tmp_path: Path, kernel: str) -> None:
    """Notebook 3 against a given scim_url, approving what the auditor marked in the workbook."""
    import recon
    from recon.notebook import start_local_scim

    config = recon.load_config(ROOT / "data" / "samples" / "recon.yaml")
    local = start_local_scim(config, recon.snapshot(config).resources)
    try:
        result = recon.reconcile(local.config, target=recon.snapshot(local.config))
        changes = recon.plan(result, local.config)
        leavers = changes.ops.loc[changes.ops["category"] == "leaver", "op_id"]
        workbook = recon.write_workbook(tmp_path / "auditor.xlsx", result, changes)
        assert mark_approved(workbook, set(leavers)) == len(leavers) > 0

        executed = execute("03_approve_push_verify", tmp_path, kernel, scim_url=local.url,
                           approval_workbook=str(workbook))
    finally:
        local.stop()

    approval = json.loads((tmp_path / "run" / "approval.json").read_text(encoding="utf-8"))
    assert (tmp_path / "run" / "journal.sqlite").exists()  # a given target: resumable journal
    assert approval["source"] == "workbook:auditor.xlsx"
    assert sorted(approval["op_ids"]) == sorted(leavers)
    assert executed.metadata["papermill"]["exception"] is None


def mark_approved(path: Path, op_ids: set[str]) -> int:
    """Play the auditor: write Approve in the Decision cell of the given ops' rows."""
    from openpyxl import load_workbook

    book = load_workbook(path)
    sheet = book["Changes"]
    header_row = next(row for row in sheet.iter_rows(max_row=12)
                      if any(cell.value == "Decision" for cell in row))
    columns = {cell.value: cell.column for cell in header_row if cell.value}
    full_id = next(name for name in columns if "op id" in str(name).lower()
                   and "full" in str(name).lower())
    marked = 0
    for row in sheet.iter_rows(min_row=header_row[0].row + 1):
        number = str(row[columns["#"] - 1].value or "")
        if number and "." not in number and row[columns[full_id] - 1].value in op_ids:
            row[columns["Decision"] - 1].value = "Approve"
            marked += 1
    book.save(path)
    return marked


# -- the helpers behind the notebooks (fast) ------------------------------------------------------


@pytest.fixture(scope="module")
def sample(sample_run: Any) -> Any:
    return sample_run


def test_labels_read_like_attribute_names() -> None:
    from recon.notebook import label

    assert label("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department") == \
        "department"
    assert label('emails[type eq "work"].value') == "emails (work)"
    assert label("name.givenName") == "name.givenName"


def test_readable_tables_show_blanks_and_yes_no() -> None:
    import pandas as pd

    from recon.notebook import counts_line, readable

    frame = pd.DataFrame({"name": pd.Series(["a", None], dtype="string"),
                          "enabled": [True, False], "rows": [1, 2]})
    shown = readable(frame)
    assert list(shown["name"]) == ["a", ""]
    assert list(shown["enabled"]) == ["yes", "no"]
    assert list(shown["rows"]) == [1, 2]
    assert counts_line(pd.Series({"succeeded": 3, "stale": 0, "failed": 1}), "push") == \
        "push: succeeded 3, failed 1"


def test_drift_before_after_names_managers(sample: Any) -> None:
    from recon.notebook import diff_table

    _, result, _ = sample
    table = diff_table(result)
    moved = table[(table["hr_row"] == 69) & (table["attribute"] == "manager")]
    assert list(moved[["before (target)", "after (HR)"]].iloc[0]) == ["Meera Krishnan",
                                                                       "Nathan Brooks"]
    rehired = table[(table["hr_row"] == 20) & (table["attribute"] == "active")]
    assert list(rehired[["before (target)", "after (HR)"]].iloc[0]) == ["disabled", "enabled"]


def test_conflicts_put_every_candidate_beside_hr(sample: Any) -> None:
    from recon.notebook import conflict_views

    config, result, _ = sample
    views = dict(conflict_views(result, config))
    assert len(views) == 2
    kasia = next(view for title, view in views.items() if title.startswith("HR row 74 "))
    assert list(kasia.columns) == ["HR wants", "account 1", "account 2"]
    assert kasia.loc["employeeNumber"].tolist() == ["100403", "100403", "100403"]


def test_safety_limits_say_when_the_push_would_refuse(sample: Any) -> None:
    from recon.core.approve import approve
    from recon.core.config import Policy
    from recon.notebook import limits_table

    _, result, changes = sample
    approval = approve(changes, approver="a", categories=["leaver"])
    table = limits_table(changes, approval, Policy(max_disables=10), len(result.current))
    disables = table.set_index("limit").loc["disables per push"]
    assert (disables["approved"], disables["allowed"]) == (15, 10)
    assert disables["within the limit"].startswith("NO")


def test_hygiene_findings_and_their_export(sample: Any, tmp_path: Path) -> None:
    import pandas as pd

    from recon import hygiene

    config, result, _ = sample
    found = hygiene.findings(result, config)
    assert len(found["leavers still enabled"]) == 15
    assert sorted(found["employee ids on several accounts"]["employee id"]) == ["100403"] * 2
    assert "svc-backup@example.com" not in set(found["accounts without employee id"]["account"])
    assert set(found["department or manager differs"]["attribute"]) == {"department", "manager"}

    found["leavers still enabled"].loc[0, "who"] = "=HYPERLINK(\"http://x\")"
    written = hygiene.export(found, tmp_path)
    assert {p.suffix for p in written} == {".csv", ".xlsx"} and len(written) == 5
    from openpyxl import load_workbook

    sheet = load_workbook(tmp_path / "access_review.xlsx")["Leavers still enabled"]
    who = next(c for c in sheet[3] if c.value == "=HYPERLINK(\"http://x\")")
    assert who.data_type == "s" and who.quotePrefix  # stays text, even when edited in Excel
    assert pd.read_csv(next(p for p in written if p.name.endswith("leavers_still_enabled.csv")),
                       encoding="utf-8-sig").loc[0, "who"].startswith("'=")


def test_graph_users_carry_the_directory_properties() -> None:
    from recon.testing.local import graph_user

    user = graph_user({
        "id": "1", "userName": "a@example.com", "active": "False", "title": "Boss",
        "emails": [{"type": "work", "value": "a@example.com"}],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "7", "department": "Ops", "manager": {"value": "2"}}})
    assert user == {"id": "1", "userPrincipalName": "a@example.com", "accountEnabled": False,
                    "jobTitle": "Boss", "mail": "a@example.com", "employeeId": "7",
                    "department": "Ops", "manager": "2"}
