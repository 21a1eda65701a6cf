"""Notebook 02 at scale: Run All headless, its time beyond the reconcile itself, its saved size.

    .venv/bin/python benchmarks/bench_notebooks.py 100000 1000000

For each N: generate the files once (``out/bench/N``, see generate.py); time the reconcile the
notebook runs (read, reconcile, plan, write the run folder) in a fresh process; then execute
notebook 02 with papermill on the same files in a fresh kernel, as a headless run does (tables
as their first rows, the count and the CSV that holds every row). Prints, per N, the notebook's
wall time, the reconcile's, the difference (what the notebook's own cells cost) and the size of
the saved notebook. Nothing here asserts a time: figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NOTEBOOK = ROOT / "notebooks" / "02_reconcile_and_review.ipynb"

RECONCILE = """
import sys, time
from pathlib import Path
import recon
started = time.perf_counter()
config = recon.load_config(sys.argv[1])
hr = recon.read_hr(config.source, config.base_dir)
target = recon.snapshot(config)
result = recon.reconcile(config, hr, target)
changes = recon.plan(result, config)
recon.write_outputs(result, changes, Path(sys.argv[2]), overwrite=True)
print(time.perf_counter() - started)
"""


def ensure_data(people: int) -> Path:
    folder = ROOT / "out" / "bench" / str(people)
    if not (folder / "recon.yaml").exists():
        subprocess.run([sys.executable, str(HERE / "generate.py"), str(people), "--out",
                        str(folder)], check=True)
    return folder / "recon.yaml"


def reconcile_seconds(config: Path, out: Path) -> float:
    done = subprocess.run([sys.executable, "-c", RECONCILE, str(config), str(out)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def notebook_seconds(config: Path, out: Path) -> tuple[float, int]:
    """Wall time of Run All in a fresh kernel (its start included) and the saved size."""
    import papermill

    saved = out / "02.out.ipynb"
    started = time.perf_counter()
    papermill.execute_notebook(
        str(NOTEBOOK), str(saved), cwd=str(NOTEBOOK.parent), progress_bar=False,
        log_output=False, parameters={"config_path": str(config), "run_dir": str(out / "run")})
    return time.perf_counter() - started, saved.stat().st_size


def largest_outputs(saved: Path, top: int = 3) -> list[tuple[int, str]]:
    cells = json.loads(saved.read_text(encoding="utf-8"))["cells"]
    sizes = [(len(json.dumps(cell.get("outputs", []))), "".join(cell["source"])[:50])
             for cell in cells if cell["cell_type"] == "code"]
    return sorted(sizes, reverse=True)[:top]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="+", help="numbers of people")
    args = parser.parse_args(argv)
    print(f"notebook 02, headless (papermill); machine load {os.getloadavg()[0]:.1f}")
    print(f"{'people':>10}  {'notebook':>9}  {'reconcile':>9}  {'beyond':>7}  {'saved':>9}")
    for people in args.n:
        config = ensure_data(people)
        with tempfile.TemporaryDirectory(prefix="bench-nb-") as scratch:
            out = Path(scratch)
            base = reconcile_seconds(config, out / "alone")
            total, size = notebook_seconds(config, out)
            print(f"{people:>10,}  {total:>8.1f}s  {base:>8.1f}s  {total - base:>6.1f}s  "
                  f"{size / 1024:>7.0f} kB")
            for length, source in largest_outputs(out / "02.out.ipynb"):
                print(f"{'':>12}largest output {length / 1024:>6.0f} kB: {source!r}")


if __name__ == "__main__":
    main()
