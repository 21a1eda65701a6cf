"""The bundled samples: recon agrees row by row with the README and an independent checker."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest

from recon.io.config_file import load_config
from recon.workflows.reconcile import plan, reconcile
from tests.conftest import SAMPLES


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_samples", SAMPLES / "check_samples.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def result(sample_run):  # type: ignore[no-untyped-def]
    return sample_run[1]


def test_every_hr_row_matches_the_independent_checker(result) -> None:  # type: ignore[no-untyped-def]
    hr_expected, account_expected, _ = checker().classify()
    people = result.identities.dropna(subset=["hr_row"])
    got = dict(zip(people["hr_row"].astype(int), people["category"], strict=True))
    assert got == hr_expected
    accounts = result.identities[result.identities["hr_row"].isna()]
    assert dict(zip(accounts["target_id"], accounts["category"], strict=True)) == account_expected


def test_counts_match_the_readme(result) -> None:  # type: ignore[no-untyped-def]
    rows, counts = checker().readme_expectations()
    identities = result.identities
    for category, (hr_count, account_count) in counts.items():
        of = identities[identities["category"] == category]
        assert (int(of["hr_row"].notna().sum()), int(of["hr_row"].isna().sum())) == (
            hr_count, account_count), category
    people = identities.dropna(subset=["hr_row"]).set_index("hr_row")
    for number, category in rows.items():
        assert people.loc[number, "category"] == category, number


def test_the_sample_plan_stays_within_the_safety_limits(result) -> None:  # type: ignore[no-untyped-def]
    ops = plan(result, load_config(SAMPLES / "recon.yaml")).ops
    assert (ops["action"] == "disable").sum() <= 50
    assert not (ops["action"] == "delete").any()


def test_microsofts_inbound_sample_loads_with_config_alone() -> None:
    config = load_config(SAMPLES / "entra-inbound.yaml")
    inbound = reconcile(config)
    counts = inbound.counts()
    assert len(inbound.identities) == 1000
    assert counts["invalid"] == 641  # WorkerIDs reused by different people are quarantined
    invalid = inbound.category("invalid")
    assert invalid["reason"].str.contains("WorkerID").all()
    ops = plan(inbound, config).ops
    assert set(ops["action"]) == {"create"}
    assert len(ops) == counts["joiner"]
