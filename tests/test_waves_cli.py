"""``recon waves``, ``recon undo`` and ``--wave`` through the installed command (issue 21).

Mistakes are one line and exit 2 with the closest name; the round trip runs against the real
scim2-server on loopback: reconcile the pilot wave, approve and push it, verify, see the waves'
progress, undo it (approving the undo in its review workbook), push and verify the undo, and
find the target as its snapshot was — attribute by attribute — apart from the account the
push created, which is disabled.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from recon.core.undo import target_changes
from recon.testing.scimserver import RunningServer, seed, seed_groups
from tests.conftest import SAMPLES
from tests.test_cli_front_door import one_line, recon
from tests.test_notebooks import mark_approved

WAVES = [{"name": "pilot", "when": '[Supervisory Organization] = "Legal"'},
         {"name": "finance", "when": '[Supervisory Organization] = "Finance & Accounting"'}]


def with_waves(folder: Path, source: str = "recon.yaml", **target: Any) -> None:
    data = yaml.safe_load((SAMPLES / source).read_text(encoding="utf-8"))
    data["waves"] = WAVES
    if target:
        data["target"]["scim"] = target
    (folder / "waves.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                       encoding="utf-8")


@pytest.fixture(scope="module")
def offline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples with two waves, reconciled once (every wave) into run/."""
    folder = tmp_path_factory.mktemp("waves")
    for name in ("workers.csv", "target_snapshot.json"):
        shutil.copy(SAMPLES / name, folder / name)
    with_waves(folder)
    done = recon("reconcile", "--config", "waves.yaml", "--out", "run", "-q", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder


@pytest.mark.parametrize(("args", "fragment"), [
    (["reconcile", "--config", "waves.yaml", "--out", "new", "--wave", "pilto"],
     "unknown wave 'pilto' (did you mean 'pilot'?)"),
    (["reconcile", "--config", "waves.yaml", "--out", "new", "--wave", '[Locaton] = "Oslo'],
     "string is not closed"),
    (["approve", "--plan", "run/plan.json", "--wave", "finanse", "--all", "--approver", "A",
      "--out", "new/approval.json"], "unknown wave 'finanse' (did you mean 'finance'?)"),
    (["approve", "--plan", "run/plan.json", "--wave", "pilot", "--approver", "A",
      "--out", "new/approval.json"], "say what to approve in the wave"),
    (["waves", "--run", "nowhere"], "the run has no waves"),
    (["undo", "--run", "run", "--journal", "nowhere.sqlite", "--out", "new"],
     "no such push journal"),
])
def test_wave_and_undo_mistakes_are_one_line_and_exit_2(offline: Path, args: list[str],
                                                        fragment: str) -> None:
    done = recon(*args, cwd=offline)
    assert done.returncode == 2
    assert fragment in one_line(done)
    assert not (offline / "new").exists()


def test_a_waves_plan_leaves_the_other_waves_for_later(offline: Path) -> None:
    done = recon("reconcile", "--config", "waves.yaml", "--out", "pilot", "--wave", "pilot",
                 "-q", cwd=offline)
    assert done.returncode == 0, done.stderr
    assert "later waves (not in this plan; waves.csv): finance 12 ops" in done.stderr
    plan = json.loads((offline / "pilot" / "plan.json").read_text(encoding="utf-8"))
    every = pd.read_csv(offline / "run" / "waves.csv")
    assert sorted(op["op_id"] for op in plan["ops"]) == sorted(
        every.loc[every["wave"] == "pilot", "op_id"])
    approved = recon("approve", "--plan", "run/plan.json", "--wave", "finance", "--category",
                     "drift", "--category", "joiner", "--approver", "A. Auditor", "--out",
                     "run/approval-finance.json", cwd=offline)
    assert approved.returncode == 0, approved.stderr
    ids = json.loads((offline / "run" / "approval-finance.json").read_text())["op_ids"]
    finance = every[every["wave"] == "finance"]
    assert sorted(ids) == sorted(finance.loc[finance["category"].isin(["drift", "joiner"]),
                                             "op_id"])
    assert "belong to other waves" in approved.stderr
    table = recon("waves", "--run", "run", cwd=offline)
    assert table.returncode == 0 and "2 waves, 76 operations: 0 pushed" in table.stdout
    assert (offline / "run" / "waves-progress.csv").is_file()


@pytest.mark.slow
@pytest.mark.integration
def test_a_wave_pushed_and_undone_leaves_the_target_as_its_snapshot(
        tmp_path: Path, scim_server: RunningServer) -> None:
    sample = json.loads((SAMPLES / "target_snapshot.json").read_text(encoding="utf-8"))
    with scim_server.client() as client:
        seed_groups(client, sample["groups"], seed(client, sample["Resources"]))
        before = client.snapshot(groups=True)
    shutil.copy(SAMPLES / "workers.csv", tmp_path / "workers.csv")
    with_waves(tmp_path, "recon-live.yaml", url=scim_server.url)

    def ok(*args: str, code: int = 0) -> str:
        done = recon(*args, cwd=tmp_path)
        assert done.returncode == code, done.stdout + done.stderr
        return done.stdout + done.stderr

    ok("reconcile", "--config", "waves.yaml", "--out", "pilot", "--wave", "pilot", "-q")
    ok("approve", "--plan", "pilot/plan.json", "--wave", "pilot", "--all", "--approver",
       "A. Auditor", "--out", "pilot/approval.json")
    ok("push", "--config", "waves.yaml", "--plan", "pilot/plan.json", "--approval",
       "pilot/approval.json", "--journal", "pilot/journal.sqlite", "-q")
    ok("verify", "--config", "waves.yaml", "--plan", "pilot/plan.json", "--approval",
       "pilot/approval.json", "--out", "pilot/verification.csv")
    pilot = pd.read_csv(tmp_path / "pilot" / "waves.csv")
    pushed = len(pilot[pilot["wave"] == "pilot"])
    progress = ok("waves", "--run", "pilot")
    assert f"{pushed} pushed, {pushed} converged, 0 failed" in progress

    ok("undo", "--run", "pilot", "--journal", "pilot/journal.sqlite", "--out", "undo",
       "--config", "waves.yaml")
    meta = json.loads((tmp_path / "undo" / "meta.json").read_text(encoding="utf-8"))
    journal_sha = meta["undoes"]["journal_sha256"]
    assert meta["undoes"]["plan_digest"] == json.loads(
        (tmp_path / "pilot" / "plan.json").read_text(encoding="utf-8"))["digest"]
    summary = summary_text(tmp_path / "undo" / "report.xlsx")
    assert journal_sha in summary and meta["undoes"]["plan_digest"] in summary
    # Reviewed like any plan: the auditor approves every line of the undo's workbook.
    undo_plan = json.loads((tmp_path / "undo" / "plan.json").read_text(encoding="utf-8"))
    assert mark_approved(tmp_path / "undo" / "report.xlsx",
                         {op["op_id"] for op in undo_plan["ops"]}) == len(undo_plan["ops"])
    ok("approve", "--plan", "undo/plan.json", "--workbook", "undo/report.xlsx", "--approver",
       "A. Auditor", "--out", "undo/approval.json")
    ok("push", "--config", "waves.yaml", "--plan", "undo/plan.json", "--approval",
       "undo/approval.json", "--journal", "undo/journal.sqlite", "-q")
    ok("verify", "--config", "waves.yaml", "--plan", "undo/plan.json", "--approval",
       "undo/approval.json", "--journal", "undo/journal.sqlite")
    ok("report", "--run", "undo", "--journal", "undo/journal.sqlite")

    with scim_server.client() as client:
        after = client.snapshot(groups=True)
    changes = target_changes(before, after)  # attribute by attribute
    created = changes[changes["attribute"] == "created"]
    assert changes.equals(created), changes  # nothing else differs
    pushed_creates = [op for op in json.loads((tmp_path / "pilot" / "plan.json").read_text(
        encoding="utf-8"))["ops"] if op["action"] in ("create", "group_create")]
    assert len(created) == len(pushed_creates) > 0
    assert set(created.loc[created["kind"] == "user", "after"]) == {"active false"}
    for group in after.groups or []:  # a group the push created stays, emptied
        if group["id"] in set(created["id"]):
            assert not group.get("members")


def summary_text(workbook: Path) -> str:
    from openpyxl import load_workbook

    sheet = load_workbook(workbook, read_only=True)["Summary"]
    return " ".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row
                    if cell is not None)
