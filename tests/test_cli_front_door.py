"""The installed ``recon`` command as a scheduler and a person meet it (issue 14).

Every case runs the console script in a subprocess and checks the exit code (0 success, 1 the
work did not fully succeed, 2 a usage or input mistake), that a mistake is one line on stderr
naming what is wrong (with the closest valid name), and that no traceback is ever printed.
Push and verify run against the real scim2-server on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from recon.testing.scimserver import RunningServer, seed, seed_groups
from tests.conftest import SAMPLES

RECON = Path(sys.executable).parent / "recon"
ANSI = re.compile(r"\x1b\[")


def recon(*args: str, cwd: Path, env: dict[str, str] | None = None,
          ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(RECON), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    assert "Traceback" not in done.stderr + done.stdout, done.stderr
    return done


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()
             and not line.startswith("warning:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    for name in ("workers.csv", "target_snapshot.json", "recon.yaml"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path


def config_with(project: Path, name: str, change: tuple[str, str]) -> str:
    text = (project / "recon.yaml").read_text(encoding="utf-8")
    assert change[0] in text
    (project / name).write_text(text.replace(*change), encoding="utf-8")
    return name


# ---- usage mistakes: one line, exit 2, before any work -------------------------------------


@pytest.mark.parametrize(("args", "fragment"), [
    (["reconcile", "--confg", "recon.yaml", "--out", "run"], "--config"),
    (["reconile", "--config", "recon.yaml"], "did you mean 'reconcile'?"),
    (["nonsense"], "no such command 'nonsense'"),
    (["reconcile", "--config", "recon.yaml", "--out", "run", "--as-of", "15/11/2026"],
     "'15/11/2026' is not a date: write it as YYYY-MM-DD"),
    # the date is checked before the config is even read
    (["reconcile", "--config", "missing.yaml", "--out", "run", "--as-of", "2026-13-01"],
     "is not a date"),
    (["reconcile", "--config", "missing.yaml", "--out", "run"], "cannot read config"),
])
def test_usage_mistakes_are_one_line_and_exit_2(project: Path, args: list[str],
                                                fragment: str) -> None:
    done = recon(*args, cwd=project)
    assert done.returncode == 2
    assert fragment in one_line(done)
    assert not (project / "run").exists()


def test_recon_alone_shows_the_help_and_the_exit_codes(project: Path) -> None:
    done = recon(cwd=project)
    assert done.returncode == 2
    assert "reconcile" in done.stderr and "Exit codes: 0 success, 1 not fully done" in done.stderr
    assert "2 usage or input mistake" in recon("--help", cwd=project).stdout


@pytest.mark.parametrize(("change", "fragment"), [
    (("\n  title: ", "\n  titel: "),
     "line 23: attributes.titel: 'titel' is not an attribute of the target (RFC 7643); did you "
     "mean 'title'?"),
    (("\nattributes:", "\natributes:"), "atributes: unknown key (did you mean 'attributes'?)"),
    (("  path: workers.csv", "  paht: workers.csv"), "source.paht: unknown key (did you mean "
                                                     "'path'?)"),
    (("target: userName}", "target: usrName}"), "match.1.target: 'usrName' is not an attribute"),
    (("\n  exclude: 'Left([userName], 4)", "\n  exclude: 'Left([userNmae], 4)"),
     "target.exclude [userNmae]"),
])
def test_config_mistakes_name_the_line_and_the_closest_valid_name(
        project: Path, change: tuple[str, str], fragment: str) -> None:
    name = config_with(project, "typo.yaml", change)
    done = recon("reconcile", "--config", name, "--out", "run", cwd=project)
    assert done.returncode == 2
    line = one_line(done)
    assert fragment in line
    assert "Field required" not in line  # the real cause is named, not its consequence
    assert not (project / "run").exists()


def test_custom_extension_attributes_are_allowed_by_declaring_their_schema(project: Path) -> None:
    acme = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
    name = config_with(project, "custom.yaml", (
        "\n  title: ", f"\n  {acme}:badge: \"[Employee ID]\"\n  title: "))
    refused = recon("reconcile", "--config", name, "--out", "run", cwd=project)
    assert refused.returncode == 2 and "target.extensions" in one_line(refused)
    text = (project / name).read_text(encoding="utf-8").replace(
        "\ntarget:\n", f"\ntarget:\n  extensions: [\"{acme}\"]\n")
    (project / name).write_text(text, encoding="utf-8")
    assert recon("reconcile", "--config", name, "--out", "run", cwd=project).returncode == 0


# ---- approve: names are checked, selectors do not conflict ---------------------------------


@pytest.fixture
def run_folder(project: Path) -> Path:
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert done.returncode == 0, done.stderr
    return project / "run"


@pytest.mark.parametrize(("args", "fragment"), [
    (["--category", "joinr"], "unknown category 'joinr' (did you mean 'joiner'?)"),
    (["--action", "disabel"], "unknown action 'disabel' (did you mean 'disable'?)"),
    (["--category", "joiner", "--workbook", "run/report.xlsx"],
     "--category cannot be combined with --workbook"),
    ([], "say what to approve"),
])
def test_approve_refuses_unknown_names_and_conflicting_selectors(
        run_folder: Path, args: list[str], fragment: str) -> None:
    done = recon("approve", "--plan", "run/plan.json", "--approver", "A. Auditor",
                 "--out", "run/approval.json", *args, cwd=run_folder.parent)
    assert done.returncode == 2
    assert fragment in one_line(done)
    assert not (run_folder / "approval.json").exists()


# ---- run folders are append-only evidence ----------------------------------------------------


def test_a_run_folder_is_never_silently_overwritten(run_folder: Path) -> None:
    project = run_folder.parent
    first = json.loads((run_folder / "plan.json").read_text(encoding="utf-8"))["digest"]
    again = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert again.returncode == 2 and "already holds a run" in one_line(again)
    assert recon("reconcile", "--config", "recon.yaml", "--out", "run", "--overwrite",
                 cwd=project).returncode == 0
    assert recon("approve", "--plan", "run/plan.json", "--category", "leaver", "--approver",
                 "A. Auditor", "--out", "run/approval.json", cwd=project).returncode == 0
    # A different plan never lands beside an approval, even when asked.
    changed = config_with(project, "later.yaml", ("as_of: 2026-11-15", "as_of: 2026-12-15"))
    refused = recon("reconcile", "--config", changed, "--out", "run", "--overwrite", cwd=project)
    assert refused.returncode == 2
    assert "kept as evidence" in one_line(refused)
    assert json.loads((run_folder / "plan.json").read_text(encoding="utf-8"))["digest"] == first


def test_report_writes_evidence_and_never_the_review_workbook(run_folder: Path) -> None:
    project = run_folder.parent
    review = (run_folder / "report.xlsx").read_bytes()
    done = recon("report", "--run", "run", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (run_folder / "evidence.xlsx").is_file()
    refused = recon("report", "--run", "run", "--out", "run/report.xlsx", cwd=project)
    assert refused.returncode == 2 and "review workbook" in one_line(refused)
    assert (run_folder / "report.xlsx").read_bytes() == review


# ---- saying what is happening ----------------------------------------------------------------


def test_reconcile_says_what_it_is_doing_in_plain_text(run_folder: Path) -> None:
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run2", cwd=run_folder.parent)
    lines = done.stdout.splitlines()
    for stage in ("read HR", "read target", "quality", "map", "match", "classify", "plan",
                  "write", "workbook"):
        assert any(line.startswith(stage) for line in lines), stage
    assert "300 rows" in done.stdout and "283 accounts" in done.stdout
    assert not ANSI.search(done.stdout + done.stderr)  # not a terminal: plain text
    quiet = recon("reconcile", "--config", "recon.yaml", "--out", "run3", "--quiet",
                  cwd=run_folder.parent)
    assert quiet.returncode == 0 and quiet.stdout.strip().splitlines() == [
        quiet.stdout.strip()]  # one line: the plan and where it went


def test_recon_s_own_warnings_reach_the_user_while_gx_is_imported_alongside(
        project: Path) -> None:
    """GX is imported on a thread while the inputs are read, with other modules' warnings
    ignored meanwhile (``prepared_alongside``): the HR reader's own warning still shows, once,
    and none of GX's import noise does."""
    text = (project / "workers.csv").read_text(encoding="utf-8-sig")
    (project / "workers.csv").write_bytes(text.replace("Active", "Actíve", 1).encode("cp1252", errors="replace"))
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(warned) == 1 and warned[0].startswith("warning:"), done.stderr
    assert "read as cp1252" in warned[0]


def test_the_hr_file_s_mistake_is_told_first(project: Path) -> None:
    """An HR workbook and a saved snapshot both wrong: the line names the HR file, read first
    (read_inputs), and the target is not read at all."""
    import csv

    from openpyxl import Workbook

    book = Workbook()
    with (project / "workers.csv").open(encoding="utf-8", newline="") as rows:
        for row in csv.reader(rows):
            book.active.append(row)
    book.save(project / "workers.xlsx")
    name = config_with(project, "book.yaml", ("workers.csv", "workers.xlsx"))
    fine = recon("reconcile", "--config", name, "--out", "run", cwd=project)
    assert fine.returncode == 0 and "300 rows" in fine.stdout, fine.stderr
    (project / "target_snapshot.json").write_text('{"Resources": [', encoding="utf-8")
    broken = recon("reconcile", "--config", name, "--out", "run2", cwd=project)
    assert broken.returncode == 2 and "target_snapshot.json" in one_line(broken)
    (project / "workers.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    both = recon("reconcile", "--config", name, "--out", "run3", cwd=project)
    assert both.returncode == 2 and "workers.xlsx" in one_line(both)
    assert "target_snapshot.json" not in both.stderr


def test_a_plan_past_the_safety_limits_is_flagged_before_review(project: Path) -> None:
    name = config_with(project, "strict.yaml", ("max_disables: 50", "max_disables: 3"))
    done = recon("reconcile", "--config", name, "--out", "run", cwd=project)
    assert done.returncode == 0
    assert ("warning: the plan holds 15 disables, over policy.max_disables (3)"
            in done.stderr)
    from openpyxl import load_workbook

    summary = load_workbook(project / "run" / "report.xlsx")["Summary"]
    flagged = [row for row in summary.iter_rows() if row[0].value == "disables"]
    assert flagged and flagged[0][0].font.color.rgb.endswith("C00000")  # red
    assert "refused" in str(flagged[0][3].value)


# ---- the work ran but did not fully succeed: exit 1 -------------------------------------------


def test_snapshot_and_quality_keep_the_same_contract(project: Path) -> None:
    lines = recon("snapshot", "--config", "recon.yaml", "--out", "saved.jsonl", cwd=project)
    assert lines.returncode == 2  # the samples have groups: JSON lines would drop them
    assert "write a snapshot with groups to a .json file" in one_line(lines)
    saved = recon("snapshot", "--config", "recon.yaml", "--out", "saved.json", cwd=project)
    assert saved.returncode == 0 and "283 users" in saved.stdout
    assert len(json.loads((project / "saved.json").read_text(encoding="utf-8"))["Resources"]) == 283
    checked = recon("quality", "--config", "recon.yaml", "--out", "q", cwd=project)
    assert checked.returncode == 0 and (project / "q" / "quality.html").is_file()
    wrong = recon("quality", "--config", "recon.yaml", cwd=project)
    assert wrong.returncode == 2 and "Missing option '--out'" in one_line(wrong)


def test_a_refused_extract_exits_1(project: Path) -> None:
    text = (project / "workers.csv").read_text(encoding="utf-8").splitlines()
    header, rows = text[0], text[1:]
    status = header.split(",").index("Worker Status")
    broken = [header] + [",".join(cell if n != status else "" for n, cell in
                                  enumerate(row.split(","))) for row in rows]
    (project / "workers.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    done = recon("reconcile", "--config", "recon.yaml", "--out", "run", cwd=project)
    assert done.returncode == 1
    assert "refusing to plan" in one_line(done)
    report = recon("quality", "--config", "recon.yaml", "--out", "q", cwd=project)
    assert report.returncode == 1 and "refusing to plan" in one_line(report)
    assert (project / "q" / "quality.json").is_file()  # written before the refusal


@pytest.fixture
def live(project: Path, scim_server: RunningServer) -> Iterator[Path]:
    """The samples on a real scim2-server on loopback, and a config pointing at it."""
    sample = json.loads((SAMPLES / "target_snapshot.json").read_text(encoding="utf-8"))
    with scim_server.client() as client:
        ids = seed(client, sample["Resources"])
        seed_groups(client, sample.get("groups") or [], ids)
    data = yaml.safe_load((SAMPLES / "recon-live.yaml").read_text(encoding="utf-8"))
    data["target"]["scim"] = {"url": scim_server.url}
    (project / "live.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                       encoding="utf-8")
    yield project


@pytest.mark.integration
def test_push_exits_1_when_an_op_is_stale_and_verify_when_not_converged(live: Path,
                                                                       scim_server: RunningServer
                                                                       ) -> None:
    assert recon("reconcile", "--config", "live.yaml", "--out", "run",
                 cwd=live).returncode == 0
    plan = json.loads((live / "run" / "plan.json").read_text(encoding="utf-8"))
    drift = next(op for op in plan["ops"] if op["action"] == "update")
    assert recon("approve", "--plan", "run/plan.json", "--op", drift["op_id"], "--approver",
                 "A. Auditor", "--out", "run/approval.json", cwd=live).returncode == 0
    # Before the push, nothing converged: verify says so with exit 1.
    unverified = recon("verify", "--config", "live.yaml", "--plan", "run/plan.json",
                       "--approval", "run/approval.json", cwd=live)
    assert unverified.returncode == 1 and "converged: 0/1" in unverified.stdout
    # Someone changes the account after the snapshot: the push must not overwrite it.
    path, value = next(iter(drift["before"].items()))
    with scim_server.client() as client:
        account = client.get_user(drift["target_id"])
        assert account is not None
        client.patch(f"/Users/{drift['target_id']}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": path, "value": f"{value} (edited)"}]})
    pushed = recon("push", "--config", "live.yaml", "--plan", "run/plan.json", "--approval",
                   "run/approval.json", "--journal", "run/journal.sqlite", cwd=live)
    assert pushed.returncode == 1
    assert "stale" in pushed.stdout + pushed.stderr


@pytest.mark.integration
def test_a_push_past_a_safety_limit_is_refused_with_exit_1(live: Path) -> None:
    assert recon("reconcile", "--config", "live.yaml", "--out", "run",
                 cwd=live).returncode == 0
    assert recon("approve", "--plan", "run/plan.json", "--category", "leaver", "--approver",
                 "A. Auditor", "--out", "run/approval.json", cwd=live).returncode == 0
    done = recon("push", "--config", "live.yaml", "--plan", "run/plan.json", "--approval",
                 "run/approval.json", "--journal", "run/journal.sqlite", "--max-disables", "2",
                 cwd=live)
    assert done.returncode == 1
    assert "15 disables approved, over the limit of 2" in one_line(done)
    assert not (live / "run" / "journal.sqlite").exists()


# ---- interrupted, and bugs: never exit 0 -------------------------------------------------------


def test_interrupted_is_130_and_an_internal_error_is_3(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from recon import cli
    from recon.workflows import reconcile as workflow

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug")

    config = str(SAMPLES / "recon.yaml")
    monkeypatch.setattr(workflow, "check_config", interrupted)
    assert cli.run(["reconcile", "--config", config, "--out", "/nonexistent/x"]) in (2, 130)
    monkeypatch.setattr(workflow, "snapshot", interrupted)
    monkeypatch.setattr(workflow, "check_config", lambda *a, **k: None)
    assert cli.run(["snapshot", "--config", config, "--out", "/tmp/never.json"]) == 130
    monkeypatch.setattr(workflow, "snapshot", broken)
    assert cli.run(["snapshot", "--config", config, "--out", "/tmp/never.json"]) == 3
    assert "internal error" in capsys.readouterr().err
