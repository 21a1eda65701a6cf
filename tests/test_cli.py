"""The CLI: one call into the library per command; user mistakes are one line and exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tables import csv_text, table

HR = table("""
| Employee ID | Status     | Email     | First | Last | Hired      |
| 1           | Active     | ann@x.org | Ann   | Lee  | 2020-01-05 |
| 2           | Active     | bob@x.org | Bob   | Ray  | 2026-11-01 |
| 3           | Terminated | cy@x.org  | Cy    | Poe  | 2020-01-05 |
""")
SNAPSHOT = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
    "totalResults": 2,
    "Resources": [
        {"id": "a1", "userName": "ann@x.org", "externalId": "1", "active": True},
        {"id": "a3", "userName": "cy@x.org", "externalId": "3", "active": True},
    ],
}
CONFIG = """
as_of: 2026-11-15
source:
  path: hr.csv
  key: Employee ID
  status: {column: Status, active: [Active]}
  hire_date: Hired
target: {file: snapshot.json}
attributes:
  userName: "[Email]"
  externalId: "[Employee ID]"
match:
  - {source: "[Employee ID]", target: externalId}
"""


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recon.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "hr.csv").write_text(csv_text(HR))
    (tmp_path / "snapshot.json").write_text(json.dumps(SNAPSHOT))
    (tmp_path / "recon.yaml").write_text(CONFIG)
    return tmp_path


def test_reconcile_writes_the_run_folder_and_prints_counts(project: Path) -> None:
    done = run("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "joiner" in done.stdout and "leaver" in done.stdout
    identities = (project / "run" / "identities.csv").read_text().splitlines()
    assert identities[0].startswith(
        "category,hr_key,hr_row,target_id,matched_by,changed_attributes,reason")
    assert len(identities) == 1 + 3
    plan = json.loads((project / "run" / "plan.json").read_text())
    assert sorted(op["action"] for op in plan["ops"]) == ["create", "disable"]


def test_approve_by_category_binds_to_the_plan(project: Path) -> None:
    assert run("reconcile", "-c", "recon.yaml", "--out", "run", cwd=project).returncode == 0
    done = run("approve", "--plan", "run/plan.json", "--category", "leaver",
               "--approver", "A. Auditor", "--out", "run/approval.json", cwd=project)
    assert done.returncode == 0, done.stderr
    approval = json.loads((project / "run" / "approval.json").read_text())
    plan = json.loads((project / "run" / "plan.json").read_text())
    assert approval["plan_digest"] == plan["digest"]
    assert len(approval["op_ids"]) == 1


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda p: (p / "recon.yaml").write_text("as_of: [unclosed"), "not valid YAML"),
        (lambda p: (p / "recon.yaml").write_text(CONFIG + "colour: blue\n"), "colour: unknown key"),
        (lambda p: (p / "hr.csv").unlink(), "cannot read HR file"),
        (lambda p: (p / "snapshot.json").write_text("{\"hello\": 1}"), "not a SCIM snapshot"),
        (lambda p: (p / "recon.yaml").unlink(), "cannot read config"),
        (lambda p: (p / "recon.yaml").write_text(CONFIG.replace('"[Email]"', '"[Emial]"')),
         "did you mean 'Email'"),
        (lambda p: (p / "recon.yaml").write_text(CONFIG.replace('"[Email]"', '"ToLower([Email]"')),
         "attributes.userName: expression 'ToLower([Email]': expected ')'"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(project: Path, mutate, fragment: str) -> None:  # type: ignore[no-untyped-def]
    mutate(project)
    done = run("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert done.returncode == 2
    assert fragment in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
