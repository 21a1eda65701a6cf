"""Every fast path gives what its general path gives, on small random runs (tests/runs.py).

The column-wise shortcuts were proven byte for byte on the benchmark's data, which never has a
quiet day's shapes: one rehire and nothing else, a category alone, an empty column, one account.
For each random run: the HR reader (pyarrow vs the csv module), the snapshot reader (columnar vs
dicts), the current frame (columnar vs ``get_path`` per resource), match (vs one merge per
rule), classify (vs each template's expected category, and its diffs vs the scalar ``same``
rule), the plan builder (column-wise vs one dict per op), the plan reader (column-wise vs
general) and the CSV writer (vs ``DataFrame.to_csv``) agree — or the fast path hands over to the
general one (None), never crashes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recon.core.match import match
from recon.core.normalize import current_frame
from recon.core.plan_build import build_plan
from recon.core.plan_columnar import columnar_ops
from recon.core.quality import QualityResult
from recon.core.same import parse_active, same
from recon.core.scim import get_path
from recon.core.snapshot import Snapshot
from recon.io import hr as hr_module
from recon.io.csv_out import write_csv
from recon.io.hr import read_hr
from recon.io.snapshots import read_snapshot
from recon.workflows import reconcile as reconcile_module
from recon.workflows.reconcile import reconcile, target_paths
from tests.runs import ACCOUNTS, PEOPLE, Run, runs
from tests.tables import config
from tests.test_compare_fast_paths import assert_pairs_are_the_merges
from tests.test_hr_reader import assert_same_frame as assert_same_hr_frame
from tests.test_hr_reader import general_path
from tests.test_plan_columnar import DAY, assert_same, general
from tests.test_snapshot_columnar import assert_same_frame, dict_snapshot

CONFIG = config(quality={"max_invalid_share": 1})
PATHS = target_paths(CONFIG)


def key_rule_only(frame: pd.DataFrame, config: Any, *, file: str = "",
                  numbers: Any = None) -> QualityResult:
    """The quality gate's verdict on these runs (only a missing key makes a row invalid),
    without Great Expectations' half a second per run: quality is no fast path, and its own
    tests run it (tests/test_quality.py)."""
    empty = frame[config.source.key].isna()
    invalid = pd.DataFrame({"rule": "key_not_null", "column": config.source.key,
                            "reason": f"key_not_null: column {config.source.key!r} is empty"},
                           index=frame.index[empty.to_numpy()], dtype="string")
    warnings = pd.DataFrame({c: pd.Series(dtype="string")
                             for c in ("hr_row", "rule", "column", "message")})
    return QualityResult(invalid.rename_axis("hr_row"), warnings, {"file": file})


def per_resource(resources: list[dict[str, Any]], paths: list[str]) -> pd.DataFrame:
    """The current frame by its definition: ``get_path`` on every resource."""
    frame = pd.DataFrame({
        "target_id": [r.get("id") for r in resources],
        "etag": [(r.get("meta") or {}).get("version") for r in resources],
        "active": [r.get("active") for r in resources],
        **{path: [get_path(r, path) for r in resources] for path in paths}}, dtype=object)
    for column in ["target_id", "etag", *paths]:
        frame[column] = frame[column].astype("string")
    frame["active"] = parse_active(frame["active"])
    return frame


def check_readers(run: Run, folder: Path) -> tuple[Any, Snapshot, Snapshot]:
    raw = run.hr_bytes()
    (folder / "hr.csv").write_bytes(raw)
    source = CONFIG.source
    extract = read_hr(source, folder)
    fast = hr_module._read_csv_fast(raw, "x.csv", source)
    frame, header_row = general_path(raw, source)
    assert_same_hr_frame(extract.frame, frame)
    if fast is not None:
        assert_same_hr_frame(fast[0], frame)
        assert fast[1] == header_row
    (folder / "snapshot.jsonl").write_bytes(run.snapshot_lines())
    columnar = read_snapshot(folder / "snapshot.jsonl")
    dicts = dict_snapshot(folder / "snapshot.jsonl")
    assert columnar.digest == dicts.digest
    if len(run.users) < 2:
        assert columnar.users is None  # one object may be a whole document: the general path
    flat = current_frame(columnar, PATHS)
    assert_same_frame(flat, current_frame(dicts, PATHS))
    assert_same_frame(flat, per_resource(dicts.resources, PATHS))
    assert_same_frame(current_frame(Snapshot.of(dicts.resources), PATHS), flat)
    return extract, columnar, dicts


def check_classify(run: Run, result: Any) -> None:
    identities = result.identities
    people = identities[identities["hr_row"].notna()]
    assert list(people["category"]) == run.expected_people, list(people["reason"])
    accounts = identities[identities["hr_row"].isna()]
    assert dict(zip(accounts["target_id"], accounts["category"], strict=True)) == (
        run.expected_accounts)
    # Every write classify found, and only those, by the scalar rule (references resolved).
    by_id = {str(user["id"]): user for user in run.users}
    for row in people.itertuples():
        if row.category not in {"drift", "link", "rehire"}:
            continue
        wanted = result.wanted.loc[row.hr_row]
        account = by_id[str(row.target_id)]
        expected = [path for path in CONFIG.attributes if pd.notna(wanted[path])
                    and not same(path, get_path(account, path), wanted[path])]
        changed = [p for p in str(row.changed_attributes).split(";") if p and p != "active"]
        assert changed == expected, (row.hr_key, changed, expected)


def check_plan_and_files(result: Any, folder: Path) -> None:
    r = result
    made = columnar_ops(r.identities, r.diffs, r.wanted, r.current, CONFIG)
    fast = build_plan(r.identities, r.diffs, r.wanted, r.current, CONFIG, "s" * 64, DAY)
    slow = general(r.identities, r.diffs, r.wanted, r.current, CONFIG)
    assert_same(fast, slow, folder)  # frames, digests, plan.json bytes, read back both ways
    if made is not None:
        assert made.num_rows == len(fast.ops)
    for name, frame, index in (("identities", r.identities, False), ("diffs", r.diffs, False),
                               ("invalid", r.quality.invalid, True)):
        write_csv(frame, folder / f"{name}.csv", index=index)
        frame.to_csv(folder / f"{name}.pandas.csv", index=index)
        assert (folder / f"{name}.csv").read_bytes() == (
            folder / f"{name}.pandas.csv").read_bytes()


def check_run(run: Run) -> None:
    with tempfile.TemporaryDirectory() as name, pytest.MonkeyPatch.context() as patch:
        patch.setattr(reconcile_module, "check", key_rule_only)
        folder = Path(name)
        extract, columnar, dicts = check_readers(run, folder)
        result = reconcile(CONFIG, extract, columnar)
        again = reconcile(CONFIG, extract, dicts)
        pd.testing.assert_frame_equal(result.identities, again.identities, check_exact=True)
        pd.testing.assert_frame_equal(result.diffs, again.diffs, check_exact=True)
        identities = result.identities
        excluded = identities.loc[identities["category"] == "excluded", "target_id"]
        matchable = result.current[~result.current["target_id"].isin(excluded)]
        assert_pairs_are_the_merges(match(result.desired, matchable, CONFIG.match),
                                    result.desired, matchable, CONFIG.match)
        check_classify(run, result)
        check_plan_and_files(result, folder)


@pytest.mark.slow
@pytest.mark.parametrize("category", [*PEOPLE, *ACCOUNTS])
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_category_alone(category: str, data: st.DataObject) -> None:
    """A quiet day: 1 to 3 rows of one kind and nothing else (one rehire alone once crashed the
    column-wise plan builder)."""
    check_run(data.draw(runs(alone=category)))


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_random_small_runs(run: Run) -> None:
    check_run(run)
