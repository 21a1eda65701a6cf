"""The data-quality gate: which HR rows are quarantined, which only warned about, and when recon
refuses to plan from a broken extract (issue 6)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.core.config import Config, parse_config
from recon.core.quality import QualityResult, check, gate, required_columns
from recon.errors import ConfigError, PlanError
from recon.io.hr import HrExtract
from recon.io.quality_report import write_quality
from recon.io.snapshots import read_snapshot
from recon.workflows.reconcile import reconcile

HEADER = "Employee ID | Worker Status | Work Email | Hire Date | Termination Date | Manager ID"


def hr(table: str, header: str = HEADER) -> pd.DataFrame:
    """An HR frame as the reader gives it: strings, empty cells missing, index hr_row from 1."""
    lines = [header, *(line for line in table.strip().splitlines() if line.strip())]
    rows = [[cell.strip() for cell in line.split("|")] for line in lines]
    frame = pd.DataFrame(rows[1:], columns=rows[0], dtype="string").replace("", pd.NA)
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    return frame


def config(**changes: Any) -> Config:
    source: dict[str, Any] = {
        "path": "workers.csv",
        "key": "Employee ID",
        "status": {"column": "Worker Status", "active": ["Active", "Leave of Absence"],
                   "inactive": ["Terminated"]},
        "hire_date": "Hire Date",
        "termination_date": "Termination Date",
        "date_format": "%m/%d/%Y",
        "manager_key": "Manager ID",
        "email": ["Work Email"],
    }
    source.update(changes.pop("source", {}))
    data = {
        "source": source,
        "target": {"file": "snapshot.json"},
        "attributes": {"userName": "[Work Email]", "externalId": "[Employee ID]"},
        "match": [{"source": "[Employee ID]", "target": "externalId"}],
        **changes,
    }
    return parse_config(data, base_dir=Path("."))


def quarantined(result: QualityResult) -> dict[int, str]:
    return dict(zip(result.invalid.index, result.invalid["rule"], strict=True))


def test_each_rule_quarantines_its_rows_naming_rule_and_column() -> None:
    frame = hr("""
        E1 | Active           | ada@example.com   | 01/15/2020 |            |
           | Active           | nokey@example.com | 01/15/2020 |            | E1
        E3 | Active           | not-an-address    | 01/15/2020 |            | E1
        E4 | Retired          | e4@example.com    | 01/15/2020 |            | E1
        E5 |                  | e5@example.com    | 01/15/2020 |            | E1
        E6 | Active           | e6@example.com    | 31/31/2020 |            | E1
        E7 | Terminated       | e7@example.com    | 03/01/2021 | 02/01/2021 | E1
        E8 | Leave of Absence | e8@example.com    | 2021-03-01 |            | E1
        E9 | Terminated       | e9@example.com    | 44927      | 45000      | E1
    """)
    expected = {
        2: "key_not_null",
        3: "email_syntax",
        4: "status_in_set",
        5: "status_not_null",
        6: "date_parseable",
        7: "hire_before_termination",
    }
    result = check(frame, config(), file="workers.csv")
    assert quarantined(result) == expected
    assert result.invalid.index.name == "hr_row"
    assert result.invalid.loc[3, "column"] == "Work Email"
    assert "'not-an-address'" in result.invalid.loc[3, "reason"]
    assert result.invalid.loc[6, "reason"].startswith("date_parseable: column 'Hire Date'")
    assert result.warnings.empty


def test_a_duplicate_key_quarantines_every_row_that_shares_it() -> None:
    frame = hr("""
        E1 | Active | a@example.com | 01/15/2020 | |
        E2 | Active | b@example.com | 01/15/2020 | |
        E1 | Active | c@example.com | 01/15/2020 | |
        E3 | Active | d@example.com | 01/15/2020 | |
        E1 | Active | e@example.com | 01/15/2020 | |
    """)
    result = check(frame, config())
    assert list(result.invalid.index) == [1, 3, 5]
    assert set(result.invalid["rule"]) == {"key_unique"}
    assert "shared by 3 rows" in result.invalid.loc[5, "reason"]


def test_several_failures_of_one_row_are_joined_in_one_quarantine_row() -> None:
    frame = hr("""
        E1 | Active  | a@example.com | 01/15/2020 | |
        E1 | Retired | broken        | someday    | |
    """)
    result = check(frame, config())
    assert result.invalid.loc[2, "rule"] == (
        "key_unique; email_syntax; status_in_set; date_parseable")
    assert result.invalid.loc[2, "reason"].count("; ") == 3
    assert len(result.invalid) == 2


def test_unknown_manager_is_a_warning_and_the_row_is_not_quarantined() -> None:
    frame = hr("""
        E1 | Active | a@example.com | 01/15/2020 | |
        E2 | Active | b@example.com | 01/15/2020 | | E1
        E3 | Active | c@example.com | 01/15/2020 | | E404
    """)
    result = check(frame, config())
    assert result.invalid.empty
    assert result.warnings.to_dict("records") == [{
        "hr_row": 3, "rule": "manager_exists", "column": "Manager ID",
        "message": "manager_exists: column 'Manager ID' value 'E404' is not the key of any worker",
    }]


def test_dates_may_be_in_the_configured_format_iso_or_excel_serials() -> None:
    frame = hr("""
        E1 | Active | a@example.com | 01/15/2020 | 12/31/2030 |
        E2 | Active | b@example.com | 2020-01-15 | 2030-12-31 |
        E3 | Active | c@example.com | 43845      | 47848      |
        E4 | Active | d@example.com | 2020-01-15T08:00:00 |   |
    """)
    assert check(frame, config()).invalid.empty


def test_status_values_outside_the_active_list_are_fine_when_no_inactive_list_is_given() -> None:
    frame = hr("""
        E1 | Active  | a@example.com | 01/15/2020 | |
        E2 | Retired | b@example.com | 01/15/2020 | |
        E3 |         | c@example.com | 01/15/2020 | |
    """)
    result = check(frame, config(source={"status": {"column": "Worker Status",
                                                    "active": ["Active"]}}))
    assert quarantined(result) == {3: "status_not_null"}


def test_user_name_built_by_an_expression_must_be_an_address() -> None:
    header = "Employee ID | Worker Status | Login | Hire Date | Termination Date | Manager ID"
    frame = hr("""
        E1 | Active | a@example.com | 01/15/2020 | |
        E2 | Active | bob           | 01/15/2020 | |
    """, header)
    result = check(frame, config(source={"email": []}, attributes={"userName": "[Login]"}))
    assert quarantined(result) == {2: "email_syntax"}
    assert result.invalid.loc[2, "reason"] == (
        "email_syntax: userName from column 'Login' would be 'bob', not an e-mail address")


def test_user_defined_expectations_quarantine_or_warn_by_severity() -> None:
    frame = hr("""
        E1   | Active | a@example.com | 01/15/2020 | |
        X2   | Active | b@example.com | 01/15/2020 | |
        E333 | Active | c@example.com | 01/15/2020 | |
    """)
    expectations = [
        {"expectation": "expect_column_values_to_match_regex", "column": "Employee ID",
         "regex": "^E", "rule": "key_prefix"},
        {"expectation": "expect_column_value_lengths_to_be_between", "column": "Employee ID",
         "min_value": 1, "max_value": 2, "severity": "warning"},
    ]
    result = check(frame, config(quality={"expectations": expectations}))
    assert quarantined(result) == {2: "key_prefix"}
    assert list(result.warnings["hr_row"]) == [3]
    assert list(result.warnings["rule"]) == ["expect_column_value_lengths_to_be_between"]


@pytest.mark.parametrize(
    ("expectation", "fragment"),
    [
        ({"expectation": "expect_column_values_to_be_purple", "column": "Work Email"},
         "unknown expectation 'expect_column_values_to_be_purple'"),
        ({"expectation": "expect_column_values_to_match_regex", "column": "Work Email",
          "regex": "x", "severity": "fatal"}, "severity must be 'error' or 'warning'"),
        ({"column": "Work Email"}, "'expectation' (a Great Expectations name) is required"),
        ({"expectation": "expect_column_values_to_be_between", "column": "Work Email",
          "min_value": "a", "max_value": {"b": 1}}, "invalid options"),
    ],
)
def test_a_bad_user_expectation_is_a_config_error(expectation: dict[str, Any],
                                                  fragment: str) -> None:
    frame = hr("E1 | Active | a@example.com | 01/15/2020 | |")
    with pytest.raises(ConfigError, match=r"quality\.expectations") as error:
        check(frame, config(quality={"expectations": [expectation]}))
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_a_table_level_expectation_of_severity_error_stops_the_run() -> None:
    frame = hr("E1 | Active | a@example.com | 01/15/2020 | |")
    expectations = [{"expectation": "expect_table_row_count_to_be_between", "min_value": 100}]
    settings = config(quality={"expectations": expectations})
    result = check(frame, settings, file="workers.csv")
    assert result.invalid.empty
    with pytest.raises(PlanError, match="expect_table_row_count_to_be_between failed"):
        gate(result, len(frame), settings)


def test_status_column_emptied_makes_recon_refuse_to_plan() -> None:
    """A broken extract with no status would make every worker a leaver: refuse instead."""
    frame = hr("""
        E1 | | a@example.com | 01/15/2020 | |
        E2 | | b@example.com | 01/15/2020 | |
        E3 | | c@example.com | 01/15/2020 | |
    """)
    settings = config()
    result = check(frame, settings, file="workers.csv")
    assert len(result.invalid) == 3  # quarantined, so none of them is planned as a leaver
    with pytest.raises(PlanError) as error:
        gate(result, len(frame), settings)
    assert str(error.value).startswith("workers.csv: column 'Worker Status': empty in every row")


def test_a_missing_required_column_refuses_to_plan_and_names_the_option() -> None:
    frame = hr("E1 | a@example.com | 01/15/2020 | |",
               "Employee ID | Work Email | Hire Date | Termination Date | Manager ID")
    settings = config()
    result = check(frame, settings, file="workers.csv")
    assert result.missing_columns == [
        {"column": "Worker Status", "needed_by": "source.status.column"}]
    with pytest.raises(PlanError, match=r"^workers.csv: column 'Worker Status': required column "
                                        r"is missing \(named by source.status.column\)"):
        gate(result, len(frame), settings)


@pytest.mark.parametrize(("bad_rows", "refused"), [(1, False), (2, True)])
def test_more_than_the_configured_share_of_invalid_rows_refuses(bad_rows: int,
                                                               refused: bool) -> None:
    good = [f"E{i} | Active | e{i}@example.com | 01/15/2020 | |" for i in range(5 - bad_rows)]
    bad = [f"B{i} | Active | broken | 01/15/2020 | |" for i in range(bad_rows)]
    frame = hr("\n".join(good + bad))
    settings = config(quality={"max_invalid_share": 0.25})
    result = check(frame, settings, file="workers.csv")
    if refused:
        with pytest.raises(PlanError, match=r"2 of 5 rows \(40%\) failed data quality, more than "
                                            r"quality.max_invalid_share \(25%\)"):
            gate(result, len(frame), settings)
    else:
        gate(result, len(frame), settings)


def test_an_extract_without_data_rows_refuses_to_plan() -> None:
    frame = hr("")
    settings = config()
    result = check(frame, settings, file="workers.csv")
    with pytest.raises(PlanError, match="no data rows"):
        gate(result, 0, settings)


def test_a_huge_cell_is_cut_in_the_reason_which_stays_on_one_line() -> None:
    huge = "x" * 1_000_000 + "\n@"
    frame = hr("E1 | Active | placeholder | 01/15/2020 | |")
    frame.loc[1, "Work Email"] = huge
    result = check(frame, config())
    reason = result.invalid.loc[1, "reason"]
    assert result.invalid.loc[1, "rule"] == "email_syntax; value_length"
    assert "value_length: column 'Work Email' holds 1000002 characters" in reason
    assert len(reason) < 300
    assert "\n" not in reason


def test_required_columns_name_the_option_that_needs_them() -> None:
    settings = config(source={"scope": "[Worker Type]"},
                      attributes={"userName": "[Work Email]",
                                  "title": "[Business Title]",
                                  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:"
                                  "manager": {"reference": "[Manager ID]"}})
    needed = required_columns(settings)
    assert needed["Worker Type"] == "source.scope"
    assert needed["Business Title"] == "attributes.title"
    assert needed["Employee ID"] == "source.key"


def test_quality_outputs_are_json_and_escaped_html(tmp_path: Path) -> None:
    frame = hr("""
        E1 | Active | <script>alert(1)</script> | 01/15/2020 | |
        E2 | Active | b@example.com              | 01/15/2020 | | E9
    """)
    result = check(frame, config(), file="workers.csv")
    json_path, html_path = write_quality(result, tmp_path)
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["format"] == "recon.quality/1"
    assert data["invalid"][0]["hr_row"] == 1
    assert data["warnings"][0]["rule"] == "manager_exists"
    page = html_path.read_text(encoding="utf-8")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "email_syntax" in page and "manager_exists" in page


def test_importing_quality_does_not_import_great_expectations() -> None:
    code = "import sys, recon.core.quality; print('great_expectations' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "False"


# --- malformed inputs through the CLI ----------------------------------------------------------

BAD_INPUTS = Path(__file__).parent / "bad_inputs"
MANIFEST = yaml.safe_load((BAD_INPUTS / "cases.yaml").read_text(encoding="utf-8"))


def _generate(kind: str, folder: Path) -> str:
    """Files too big to commit, written at test time."""
    assert kind == "huge_cell"
    good = (BAD_INPUTS / "good.csv").read_text(encoding="utf-8")
    (folder / "huge_cell.csv").write_text(good.replace("Turing", "T" * 1_048_576),
                                          encoding="utf-8")
    return "huge_cell.csv"


def _case_config(case: dict[str, Any], folder: Path) -> Path:
    """The case's config in ``folder``: base.yaml with the case's files and changes."""
    config_file = folder / case["config"]
    if case["config"] != MANIFEST["defaults"]["config"]:
        return config_file  # a malformed config is used as it is
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["source"]["path"] = case["hr"]
    data["source"].update(case.get("source", {}))
    data["target"]["file"] = case["snapshot"]
    if "quality" in case:
        data["quality"] = case["quality"]
    written = folder / "case.yaml"
    written.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return written


def _run_cli(args: list[str], capsys: pytest.CaptureFixture[str],
             monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    from recon import cli

    monkeypatch.setattr(sys, "argv", ["recon", *args])
    code: int | str | None = 0
    try:
        cli.main()
    except SystemExit as done:
        code = done.code
    assert isinstance(code, int)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    "case", [{**MANIFEST["defaults"], **case} for case in MANIFEST["cases"]],
    ids=[case["name"] for case in MANIFEST["cases"]])
def test_a_malformed_input_gives_one_clear_line_or_quarantines_rows(
    case: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for file in BAD_INPUTS.iterdir():
        shutil.copy(file, tmp_path / file.name)
    if "generate" in case:
        case["hr"] = _generate(case["generate"], tmp_path)
    config_file = _case_config(case, tmp_path)
    out = tmp_path / "out"
    code, stderr = _run_cli([case["command"], "--config", str(config_file), "--out", str(out)],
                            capsys, monkeypatch)
    assert "Traceback" not in stderr
    assert code == case["exit"], stderr
    if case["exit"]:
        errors = [line for line in stderr.splitlines() if line.strip()
                  and not line.startswith(("warning:", "WARNING:"))]
        assert len(errors) == 1, stderr
        assert case["message"] in errors[0]
        if case.get("names_file", True):
            named = case["hr"] if case["config"] == "base.yaml" else case["config"]
            if case["snapshot"] != MANIFEST["defaults"]["snapshot"]:
                named = case["snapshot"]
            assert named in errors[0]
    if "invalid" in case:
        if case["command"] == "quality":
            report = json.loads((out / "quality.json").read_text(encoding="utf-8"))
            quarantined_rows = [row["hr_row"] for row in report["invalid"]]
            assert (out / "quality.html").is_file()
        else:
            identities = pd.read_csv(out / "identities.csv", dtype={"hr_row": "Int64"})
            invalid = identities[identities["category"] == "invalid"]
            quarantined_rows = sorted(invalid["hr_row"].tolist())
            assert (out / "quality.json").is_file()
        assert quarantined_rows == case["invalid"]


# --- random rows through the whole reconcile ----------------------------------------------------

COLUMNS = ["Employee ID", "Worker Status", "Legal First Name", "Legal Last Name", "Work Email",
           "Hire Date", "Termination Date", "Manager Employee ID"]
CELL = st.one_of(
    st.none(),
    st.sampled_from(["", "  ", "E001", "E002", "E003", "E004", "Active", "active ",
                     "Terminated", "Leave of Absence", "Retired", "ada@example.com",
                     "alan@example.com", "not-an-address", "01/15/2020", "2031-01-01", "44927",
                     "31/31/2021", "Zoë", "Zoe\u0308", "=1+1", "<b>x</b>"]),
    st.text(max_size=12),
    st.builds(lambda char, count: char * count, st.characters(codec="utf-8"),
              st.integers(1000, 3000)),
)


def _random_extract(rows: list[list[str | None]]) -> HrExtract:
    """As the reader hands them over: stripped strings, empty cells missing, hr_row from 1."""
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype="string")
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.mask(frame == "")
    frame.index = pd.RangeIndex(1, len(frame) + 1, name="hr_row")
    return HrExtract(frame, Path("random.csv"), "0" * 64, 1)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rows=st.lists(st.lists(CELL, min_size=len(COLUMNS), max_size=len(COLUMNS)),
                     min_size=1, max_size=15),
       share=st.sampled_from([0.2, 1.0]))
def test_random_rows_each_land_in_exactly_one_category(rows: list[list[str | None]],
                                                        share: float) -> None:
    base = yaml.safe_load((BAD_INPUTS / "base.yaml").read_text(encoding="utf-8"))
    settings_ = parse_config({**base, "quality": {"max_invalid_share": share}},
                             base_dir=BAD_INPUTS)
    extract = _random_extract(rows)
    try:
        result = reconcile(settings_, extract, read_snapshot(BAD_INPUTS / "snapshot.json"))
    except PlanError as refused:
        assert share < 1.0 and "refusing to plan" in str(refused)
        return
    people = result.identities[result.identities["hr_row"].notna()]
    assert sorted(people["hr_row"].astype(int)) == list(range(1, len(rows) + 1))
    invalid = people[people["category"] == "invalid"]["hr_row"].astype(int)
    assert sorted(invalid) == sorted(result.quality.invalid.index)
    accounts = result.identities["target_id"].dropna()
    assert sorted(accounts) == ["u1", "u2", "u3"]
