"""The benchmark cannot rot: generate 10,000 people and run the staged benchmark on them.

No timing is asserted (speed is for benchmarks/, see docs/benchmarks.md). What is checked: every
HR row and every account lands exactly once, recon finds the categories the generator meant,
and the benchmark's stage-by-stage pipeline gives what ``recon.workflows.reconcile`` gives.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from recon.io.config_file import load_config
from recon.workflows.reconcile import reconcile

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
N = 10_000


def _benchmarks() -> tuple[ModuleType, ModuleType]:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("generate"), importlib.import_module("bench_reconcile")


@pytest.mark.slow
def test_benchmark_at_ten_thousand_people(tmp_path: Path) -> None:
    generate, bench = _benchmarks()
    summary = generate.generate(N, tmp_path)
    assert summary["workers"] == N

    result = bench.measure(N, tmp_path)

    assert result["conservation"] == "ok"
    assert result["counts"] == summary["expected"]
    assert set(result["seconds"]) == set(bench.STAGES)
    assert result["datacompy"] > 0
    assert "N = 10k" in bench.render([result], {"CPU": "test"})


@pytest.mark.slow
def test_staged_pipeline_is_reconcile(tmp_path: Path) -> None:
    generate, bench = _benchmarks()
    generate.generate(2_000, tmp_path)
    staged, _, _ = bench.run_pipeline(tmp_path, tmp_path / "run")
    whole = reconcile(load_config(tmp_path / "recon.yaml"))
    pd.testing.assert_frame_equal(staged.identities, whole.identities)
    pd.testing.assert_frame_equal(staged.diffs, whole.diffs)
