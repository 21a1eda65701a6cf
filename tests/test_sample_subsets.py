"""Random small runs of the samples never end in a traceback (issue 15).

50 seeds, each a random subset of data/samples/workers.csv (its rows, sometimes shuffled; none,
one, or all of them) and of target_snapshot.json's accounts (none, one, or many), go through the
``recon reconcile`` command end to end: the installed console script's entry point, 50 times in
one subprocess (Great Expectations is imported once rather than 50 times), and twice through the
``recon`` executable itself. Every run exits 0 with every HR row in identities.csv, or exits 2
with one line that starts with "error:"; none prints a traceback.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import SAMPLES

SEEDS = range(50)

DRIVER = textwrap.dedent("""
    import contextlib, io, json, logging, sys, traceback
    from importlib.metadata import entry_points

    main = next(iter(entry_points(group="console_scripts", name="recon"))).load()
    results = []
    for folder in sys.argv[1:]:
        sys.argv = ["recon", "reconcile", "--config", f"{folder}/recon.yaml",
                    "--out", f"{folder}/run"]
        logging.root.handlers.clear()  # main() configures logging to this run's stderr
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
            except BaseException:
                traceback.print_exc()  # what the console script would print
                code = 1
        results.append({"folder": folder, "code": code, "stderr": err.getvalue()})
    print(json.dumps(results))
""")


def subset(seed: int, folder: Path) -> int:
    """A random subset of the samples in ``folder``; returns the number of HR data rows."""
    chance = random.Random(seed)
    folder.mkdir(parents=True)
    text = (SAMPLES / "workers.csv").read_text(encoding="utf-8-sig")
    header, *rows = list(csv.reader(text.splitlines()))
    size = chance.choice([0, 1, 2, 5, chance.randint(3, 40), chance.randint(3, 40),
                          chance.randint(40, len(rows)), len(rows)])
    kept = chance.sample(range(len(rows)), size)
    kept = [rows[at] for at in (kept if chance.random() < 0.3 else sorted(kept))]
    with (folder / "workers.csv").open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out, lineterminator="\r\n").writerows([header, *kept])
    snapshot = json.loads((SAMPLES / "target_snapshot.json").read_text(encoding="utf-8"))
    users = snapshot["Resources"]
    many = chance.choice([0, 1, chance.randint(2, len(users)), len(users)])
    snapshot["Resources"] = chance.sample(users, many)
    snapshot["totalResults"] = many
    (folder / "target_snapshot.json").write_text(json.dumps(snapshot, ensure_ascii=False),
                                                 encoding="utf-8")
    (folder / "recon.yaml").write_bytes((SAMPLES / "recon.yaml").read_bytes())
    return len(kept)


def assert_clean_ending(code: int, stderr: str, folder: Path, rows: int) -> None:
    assert "Traceback" not in stderr, stderr
    assert code in (0, 2), (folder, code, stderr)
    if code == 2:
        line = stderr.strip()
        assert line.startswith("error:") and "\n" not in line, stderr
        return
    with (folder / "run" / "identities.csv").open(encoding="utf-8") as file:
        hr_rows = [r["hr_row"] for r in csv.DictReader(file) if r["hr_row"]]
    assert sorted(int(r) for r in hr_rows) == list(range(1, rows + 1))


@pytest.mark.slow
def test_random_subsets_of_the_samples_never_end_in_a_traceback(tmp_path: Path) -> None:
    rows = {str(tmp_path / f"seed{seed}"): subset(seed, tmp_path / f"seed{seed}")
            for seed in SEEDS}
    done = subprocess.run([sys.executable, "-c", DRIVER, *rows], capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(results) == len(SEEDS)
    for result in results:
        assert_clean_ending(result["code"], result["stderr"], Path(result["folder"]),
                            rows[result["folder"]])
    endings = {result["code"] for result in results}
    assert endings == {0, 2}  # the seeds reach both: runs and refusals (an empty extract…)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 1])  # an empty extract (exit 2), 11 rows (exit 0)
def test_the_recon_executable_ends_cleanly_too(seed: int, tmp_path: Path) -> None:
    folder = tmp_path / f"seed{seed}"
    rows = subset(seed, folder)
    recon = Path(sys.executable).parent / "recon"
    done = subprocess.run([str(recon), "reconcile", "--config", str(folder / "recon.yaml"),
                           "--out", str(folder / "run")], capture_output=True, text=True,
                          timeout=600, check=False)
    assert_clean_ending(done.returncode, done.stderr, folder, rows)
