"""Keys that lost their shape are caught: a workbook key column stored as numbers, and keys that
match the target only after adding or removing leading zeros, are quality warnings naming the
column and the count — and never an overwrite of the target's value (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from openpyxl import Workbook

from recon.io.hr import read_hr
from recon.workflows.reconcile import check_quality, plan, reconcile
from tests.tables import HR_COLUMNS, accounts, config, hr


def key_shape(messages: pd.Series) -> list[str]:
    return [str(m) for m in messages if str(m).startswith("key_shape")]


def test_a_workbook_key_column_stored_as_numbers_is_warned_about(tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HR_COLUMNS)
    sheet.append([4524, "Active", "ann@x.org", "Ann", "Lee", "-", None, "01/05/2020", None, "True"])
    sheet.append(["004525", "Active", "bo@x.org", "Bo", "Ray", "-", 4524, "01/05/2020", None,
                  "True"])
    sheet.append([4526.0, "Active", "cy@x.org", "Cy", "Poe", "-", None, "01/05/2020", None,
                  "True"])
    book.save(tmp_path / "hr.xlsx")
    cfg = config(source={**config().source.model_dump(), "path": tmp_path / "hr.xlsx",
                         "manager_key": "manager"})
    extract = read_hr(cfg.source)
    assert extract.numbers == {"id": 2, "manager": 1}
    assert extract.frame["id"].tolist() == ["4524", "004525", "4526"]
    warnings = check_quality(cfg, extract).warnings
    assert key_shape(warnings["message"]) == [
        "key_shape: column 'id' is stored as numbers in 2 rows of the workbook: leading zeros "
        "are lost there (format the column as Text)",
        "key_shape: column 'manager' is stored as numbers in 1 rows of the workbook: leading "
        "zeros are lost there (format the column as Text)"]
    assert warnings["hr_row"].isna().all()


def test_keys_that_match_only_after_zero_padding_are_warned_about_never_written() -> None:
    """HR lost the zeros (4524 for 004524; 77 for 0077), or the target never had them (HR
    004526, target 4526). The e-mail finds the first two accounts: conflicts, not links. The
    third is found by nothing but its key's shape: a conflict too, never a second account."""
    workers = hr("""
    | id     | status | email      | first | last | hired      |
    | 4524   | Active | ann@x.org  | Ann   | Lee  | 01/05/2020 |
    | 77     | Active | bo@x.org   | Bo    | Ray  | 01/05/2020 |
    | 004526 | Active | cy@x.org   | Cy    | Poe  | 01/05/2020 |
    | 8      | Active | dee@x.org  | Dee   | Wu   | 01/05/2020 |
    | 9      | Active | eve@x.org  | Eve   | Li   | 01/05/2020 |
    """)
    target = accounts("""
    | id | userName   | employeeNumber | active | first | last |
    | a1 | ann@x.org  | 004524         | true   | Ann   | Lee  |
    | a2 | bo@x.org   | 0077           | true   | Bo    | Ray  |
    | a3 | cyp@x.org  | 4526           | true   | Cy    | Poe  |
    | a4 | dee@x.org  | 8              | true   | Dee   | Wu   |
    | a5 | eve@x.org  | -              | true   | Eve   | Li   |
    """)
    cfg = config()
    result = reconcile(cfg, workers, target)
    assert key_shape(result.quality.warnings["message"]) == [
        "key_shape: column 'id': 3 keys match the target's employeeNumber only after adding or "
        "removing leading zeros (e.g. HR 4524, target 004524); they are not linked over the "
        "target's value (check how the extract was saved: Excel drops leading zeros)"]
    assert result.quality.details["warning_rows"] == len(result.quality.warnings)
    categories = dict(zip(result.identities["hr_key"].fillna(result.identities["target_id"]),
                          result.identities["category"], strict=True))
    assert categories == {"4524": "conflict", "77": "conflict", "004526": "conflict",
                          "8": "in_sync", "9": "link", "a1": "conflict", "a2": "conflict",
                          "a3": "conflict"}
    reasons = dict(zip(result.identities["hr_key"].fillna(result.identities["target_id"]),
                       result.identities["reason"], strict=True))
    assert reasons["004526"] == ("no rule matched; account a3 holds employeeNumber 4526, HR says "
                                 "004526: the same key up to leading zeros (Excel drops them); "
                                 "a person decides")
    assert reasons["a3"] == "matches HR key 004526 only up to leading zeros; a person decides"
    written = plan(result, cfg).ops
    assert set(written["target_id"]) <= {"", "a5"}
    assert "create" not in set(written["action"])  # no second account for Cy Poe


def test_no_warning_when_every_key_keeps_its_shape() -> None:
    workers = hr("""
    | id     | status | email      | first | last | hired      |
    | 004524 | Active | ann@x.org  | Ann   | Lee  | 01/05/2020 |
    | 100    | Active | bo@x.org   | Bo    | Ray  | 01/05/2020 |
    """)
    target = accounts("""
    | id | userName   | employeeNumber | active | first | last |
    | a1 | ann@x.org  | 004524         | true   | Ann   | Lee  |
    | a2 | zed@x.org  | 1000           | true   | Zed   | Zo   |
    """)
    result = reconcile(config(), workers, target)
    assert key_shape(result.quality.warnings["message"]) == []
