"""The benchmark cannot rot: generate a small workforce in every file shape and run the
benchmark driver on it, through the installed ``recon reconcile`` as ``make bench`` does.

No timing is asserted (speed is for benchmarks/, see docs/benchmarks.md). What is checked: each
shape runs to exit 0 and recon finds, in identities.csv, the categories the generator meant;
each file took the reader path the benchmark claims; the report renders from recorded results.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
N = 3_000


def _bench() -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    return importlib.import_module("bench_reconcile")


@pytest.mark.slow
def test_every_shape_runs_end_to_end_with_the_counts_generated(tmp_path: Path) -> None:
    bench = _bench()
    shapes = list(bench.SHAPES)
    folders = bench.ensure_data(N, tmp_path, shapes)
    results = [bench.run_shape(N, shape, folders[bench.SHAPES[shape][3]]) for shape in shapes]
    for result in results:
        assert result["code"] == 0, (result["shape"], result["output_tail"])
        assert result["counts_ok"], result["shape"]
        assert set(result["stages"]) == set(bench.STAGES), result["shape"]
    readers = {r["shape"]: r["readers"] for r in results}
    assert readers["xlsx"]["hr"] == "fastexcel (Arrow)"
    assert readers["cp1252"]["hr"].startswith("pyarrow CSV (")
    assert {r["target"] for r in readers.values()} == {"columnar (pyarrow)"}
    route = bench.run_datacompy(N, folders[""])
    assert route.get("mismatched", 0) > 0, route

    log = tmp_path / "results.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in results)
                   + json.dumps({"route": "datacompy", **route}) + "\n", encoding="utf-8")
    out = tmp_path / "benchmarks.md"
    bench.main(["--from-json", str(log), "--write", str(out)])
    text = out.read_text(encoding="utf-8")
    assert "N = 3k people" in text and "datacompy route" in text
