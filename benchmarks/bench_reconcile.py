"""Time ``recon reconcile`` end to end, as a user runs it, on every file shape users bring.

    python benchmarks/bench_reconcile.py 100000 300000 1000000 --write docs/benchmarks.md

For each N: generate the workforce once in every shape (``out/bench/shapes-N``, see generate.py
and shapes.py), then for each shape run the installed ``recon reconcile --config
recon-<shape>.yaml --out …`` in a fresh process, every output included (the CSVs, plan.json,
the review workbooks), and read from outside its wall time, CPU seconds and peak RSS, and from
its own stage lines the seconds of each stage. A second process then says which reader each
file took (``HrExtract.reader``; a snapshot read columnar or the general way). The counts per
category in identities.csv are checked against what the generator meant. Last, the datacompy
route — what a user would do without recon: pandas ``read_csv``, ``json.load`` of the
ListResponse, ``json_normalize``, ``datacompy.PandasCompare`` and its report — is timed on the
same files in its own process.

Nothing here asserts a time: figures are for reading. ``--shapes`` picks shapes (default all).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from shapes import HR_SHAPES, TARGET_SHAPES  # noqa: E402

#: Each benchmarked shape: (label, HR file shape, target file shape, dataset suffix).
SHAPES: dict[str, tuple[str, str, str, str]] = {
    "csv": ("UTF-8 CSV × JSON lines", "csv", "jsonl", ""),
    "workday": ("Workday CSV (BOM, CRLF, quoted) × JSON lines", "workday", "jsonl", ""),
    "cp1252": ("cp1252 CSV × JSON lines", "cp1252", "jsonl", "-cp1252"),
    "xlsx": ("XLSX with a banner × JSON lines", "xlsx", "jsonl", ""),
    "list": ("UTF-8 CSV × SCIM ListResponse", "csv", "list", ""),
    "pages": ("UTF-8 CSV × ListResponse pages", "csv", "pages", ""),
    "graph": ("UTF-8 CSV × Graph /users export", "csv", "graph", ""),
    "groups": ("UTF-8 CSV × snapshot with groups", "csv", "groups", ""),
}
STAGES = ["read HR", "read target", "quality", "map", "match", "classify", "plan", "write",
          "workbook"]
STAGE_LINE = re.compile(r"^(read HR|read target|quality|map|match|classify|plan|write|workbook)\s+"
                        r".*\((\d+(?:\.\d+)?) s\)\s*$")

#: Runs a command and prints, as its last line, its wall seconds, CPU seconds and peak memory:
#: the wrapper's only child is the command, so RUSAGE_CHILDREN is the command's own. recon may
#: fork workers (the review workbooks): RUSAGE_CHILDREN's peak is then one process's, so the
#: process tree's proportional set size (PSS, shared pages counted once) is sampled every
#: 0.25 s while there is more than one process, and the larger of the two is the peak reported.
MEASURE = """
import json, os, resource, subprocess, sys, time

def tree_pss(root):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    tree, grew = {root}, True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    if len(tree) < 2:
        return 0.0  # one process: its own peak (RUSAGE_CHILDREN) is exact and costs nothing
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except OSError:
            pass
    return total / 1024

start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:])
peak_tree = 0.0
while child.poll() is None:
    peak_tree = max(peak_tree, tree_pss(child.pid))
    time.sleep(0.25)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": child.returncode, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                  "rss_mb": max(usage.ru_maxrss / 1024, peak_tree),
                  "rss_self_mb": usage.ru_maxrss / 1024, "pss_tree_mb": peak_tree}))
"""

IDENTIFY = """
import json, sys, warnings
from recon.io.config_file import load_config
from recon.io.hr import read_hr
from recon.io.snapshots import read_snapshot
warnings.simplefilter("ignore")
config = load_config(sys.argv[1])
hr = read_hr(config.source, config.base_dir)
target = read_snapshot(config.resolve(config.target.file))
print(json.dumps({"hr": hr.reader, "target": "columnar (pyarrow)" if target.users is not None
                  else "general (orjson → dicts)"}))
"""


def recon_command() -> str:
    found = Path(sys.executable).with_name("recon")
    return str(found) if found.exists() else (shutil.which("recon") or "recon")


def load_average() -> float:
    return os.getloadavg()[0]


#: A fixed piece of work timed in its own process just before each run: how fast this shared
#: machine is at that moment (the load average does not say: a neighbour's load is not in it).
#: Pure Python, as the review's XlsxWriter is, and a numpy sort, as the engine's columns are.
MACHINE_CHECK = """
import time
start = time.perf_counter()
table = {str(i): i for i in range(2_000_000)}
import numpy as np
np.sort(np.random.default_rng(1).random(5_000_000))
print(time.perf_counter() - start)
"""


def machine_check() -> float:
    child = subprocess.run([sys.executable, "-c", MACHINE_CHECK], capture_output=True, text=True)
    return float(child.stdout.strip() or "nan")


def measured(command: list[str], cwd: Path) -> tuple[dict[str, Any], str]:
    """(wall, CPU, peak RSS, exit code) of a command, and what it printed."""
    child = subprocess.run([sys.executable, "-c", MEASURE, *command], cwd=cwd,
                           capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    lines = child.stdout.strip().splitlines()
    return json.loads(lines[-1]), "\n".join(lines[:-1]) + "\n" + child.stderr


def stage_seconds(output: str) -> dict[str, float]:
    seconds: dict[str, float] = {}
    for line in output.splitlines():
        found = STAGE_LINE.match(line)
        if found:
            seconds[found.group(1)] = float(found.group(2))
    return seconds


def counts_of(run: Path) -> dict[str, int]:
    import pandas as pd

    categories = pd.read_csv(run / "identities.csv", usecols=["category"])["category"]
    return {str(k): int(v) for k, v in categories.value_counts().items()}


def ensure_data(n: int, root: Path, shapes: list[str]) -> dict[str, Path]:
    """The dataset folder of each suffix the shapes need, generated once."""
    import generate

    folders: dict[str, Path] = {}
    for suffix in sorted({SHAPES[shape][3] for shape in shapes}):
        folder = root / f"shapes-{n}{suffix}"
        folders[suffix] = folder
        wanted = sorted({part for shape in shapes if SHAPES[shape][3] == suffix
                         for part in SHAPES[shape][1:3]})
        files = [folder / {**HR_SHAPES, **TARGET_SHAPES}[part] for part in wanted]
        if (folder / "expected.json").exists() and all(file.exists() for file in files):
            continue  # generated before with every shape asked for now
        start = time.perf_counter()
        generate.generate(n, folder, shapes=wanted,
                          charset="cp1252" if suffix == "-cp1252" else "utf-8")
        print(f"generated N={n:,}{suffix} ({', '.join(wanted)}) in "
              f"{time.perf_counter() - start:.0f} s → {folder}", file=sys.stderr)
    return folders


def run_shape(n: int, shape: str, folder: Path) -> dict[str, Any]:
    label, hr_shape, target_shape, _ = SHAPES[shape]
    config = folder / f"recon-{hr_shape if hr_shape != 'csv' else target_shape}.yaml"
    out = folder / f"run-{shape}"
    before, check = load_average(), machine_check()
    usage, output = measured([recon_command(), "reconcile", "--config", str(config), "--out",
                              str(out), "--overwrite"], folder)
    after = load_average()
    identified = subprocess.run([sys.executable, "-c", IDENTIFY, str(config)], cwd=folder,
                                capture_output=True, text=True)
    readers = (json.loads(identified.stdout.strip().splitlines()[-1])
               if identified.returncode == 0 else {"hr": "?", "target": "?"})
    expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
    wanted = expected.get("expected_graph", expected["expected"]) if target_shape == "graph" \
        else expected["expected"]
    counts = counts_of(out) if usage["code"] in (0, 1) and (out / "identities.csv").exists() \
        else {}
    sizes = {"hr_mb": (folder / HR_SHAPES[hr_shape]).stat().st_size / 2**20,
             "target_mb": (folder / TARGET_SHAPES[target_shape]).stat().st_size / 2**20}
    shutil.rmtree(out, ignore_errors=True)
    return {"n": n, "shape": shape, "label": label, "code": usage["code"], "wall": usage["wall"],
            "cpu": usage["cpu"], "rss_mb": usage["rss_mb"],
            "rss_self_mb": usage.get("rss_self_mb"), "pss_tree_mb": usage.get("pss_tree_mb"),
            "load": [before, after], "check": check,
            "stages": stage_seconds(output), "readers": readers,
            "counts_ok": counts == wanted, "accounts": expected["accounts"], **sizes,
            "output_tail": output.strip().splitlines()[-3:] if usage["code"] else []}


DATACOMPY_ROUTE = """
import json, resource, sys, time
start, cpu = time.perf_counter(), time.process_time()
import datacompy, pandas as pd
folder = sys.argv[1]
hr = pd.read_csv(f"{folder}/workers.csv", dtype=str, keep_default_na=False)
with open(f"{folder}/snapshot-list.json", encoding="utf-8") as handle:
    users = json.load(handle)["Resources"]
target = pd.json_normalize(users)
enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User."
left = pd.DataFrame({"person": hr["Employee ID"], "userName": hr["Work Email"],
                     "displayName": hr["Display Name"], "givenName": hr["Legal First Name"],
                     "familyName": hr["Legal Last Name"], "title": hr["Business Title"],
                     "department": hr["Supervisory Organization"],
                     "costCenter": hr["Cost Center"]})
right = pd.DataFrame({"person": target.get(enterprise + "employeeNumber"),
                      "userName": target["userName"], "displayName": target["displayName"],
                      "givenName": target.get("name.givenName"),
                      "familyName": target.get("name.familyName"), "title": target.get("title"),
                      "department": target.get(enterprise + "department"),
                      "costCenter": target.get(enterprise + "costCenter")})
compare = datacompy.PandasCompare(left, right, join_columns=["person"])
report = compare.report()
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "mismatched": len(compare.all_mismatch()), "report_chars": len(report)}))
"""


def run_datacompy(n: int, folder: Path) -> dict[str, Any]:
    child = subprocess.run([sys.executable, "-c", DATACOMPY_ROUTE, str(folder)],
                           capture_output=True, text=True)
    if child.returncode:
        return {"n": n, "error": child.stderr.strip().splitlines()[-1:]}
    return {"n": n, **json.loads(child.stdout.strip().splitlines()[-1])}


def machine() -> dict[str, str]:
    import platform

    import numpy
    import pandas as pd
    import psutil
    import pyarrow

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"CPU": model, "cores": str(os.cpu_count()),
            "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
            "OS": f"{platform.system()} {platform.release()}",
            "Python": platform.python_version(), "pandas": pd.__version__,
            "pyarrow": pyarrow.__version__, "numpy": numpy.__version__}


def people(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000:,}M"
    return f"{n // 1000:,}k" if n % 1000 == 0 else f"{n:,}"


def check_text(result: dict[str, Any]) -> str:
    check = result.get("check")
    return "–" if check is None else f"{check:.2f} s"


def render(results: list[dict[str, Any]], routes: list[dict[str, Any]]) -> str:
    """One table per N (a row per shape), then the datacompy route per N."""
    blocks = []
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        fastest = min(r["wall"] for r in rows if r["code"] in (0, 1))
        head = ("| shape | HR reader | target reader | " + " | ".join(STAGES)
                + " | **total** wall (CPU) | × fastest | peak RSS | load | check | counts |")
        lines = [f"N = {people(n)} people ({rows[0]['accounts']:,} accounts); stage seconds as "
                 "`recon reconcile` prints them", "", head,
                 "|---|---|---|" + "---:|" * (len(STAGES) + 3) + "---|---:|---|"]
        for r in rows:
            stages = " | ".join(f"{r['stages'].get(stage, float('nan')):.1f}" for stage in STAGES)
            counts = "as generated" if r["counts_ok"] else "DIFFER"
            if r["code"] not in (0, 1):
                counts += f" (exit {r['code']})"
            lines.append(
                f"| {r['label']} | {r['readers']['hr']} | {r['readers']['target']} | {stages} | "
                f"**{r['wall']:.1f} s** ({r['cpu']:.1f} s) | {r['wall'] / fastest:.2f}× | "
                f"{r['rss_mb'] / 1024:.2f} GiB | {r['load'][0]:.1f} → {r['load'][1]:.1f} | "
                f"{check_text(r)} | {counts} |")
        blocks.append("\n".join(lines))
    if routes:
        lines = ["The datacompy route on the same files (pandas `read_csv`, `json.load` of the "
                 "ListResponse, `json_normalize`, `PandasCompare` and its report; 8 columns "
                 "compared, nothing classified), in its own process:", "",
                 "| N | wall | CPU | peak RSS | mismatched rows |", "|---:|---:|---:|---:|---:|"]
        for route in routes:
            if "error" in route:
                lines.append(f"| {people(route['n'])} | failed: {route['error']} | | | |")
                continue
            lines.append(f"| {people(route['n'])} | {route['wall']:.1f} s | {route['cpu']:.1f} s"
                         f" | {route['rss_mb'] / 1024:.2f} GiB | {route['mismatched']:,} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def verdict(results: list[dict[str, Any]]) -> str:
    """The goals of issue 19 judged from this run's own figures."""
    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    lines = []
    for n, wall_goal, rss_goal in ((1_000_000, 30, 4), (3_000_000, 100, 12)):
        rows = [r for r in results if r["n"] == n and r["code"] in (0, 1)]
        if not rows:
            continue
        fastest = min(rows, key=lambda r: r["wall"])
        worst = max(rows, key=lambda r: r["wall"])
        heaviest = max(rows, key=lambda r: r["rss_mb"])
        under = [r for r in rows if r["wall"] < wall_goal]
        light = [r for r in rows if r["rss_mb"] < rss_goal * 1024]
        near = [r for r in rows if r["wall"] / fastest["wall"] <= 1.5]
        lines.append(
            f"- N = {people(n)}: {len(under)} of {len(rows)} shapes under {wall_goal} s, "
            f"{len(light)} of {len(rows)} under {rss_goal} GiB, {len(near)} of {len(rows)} "
            f"within 1.5× of the fastest; over: "
            + (", ".join(f"{r['label']} {r['wall']:.1f} s" for r in rows
                         if r["wall"] >= wall_goal) or "none") + ".")
        lines.append(
            f"- N = {people(n)}: worst shape {worst['label']} {worst['wall']:.1f} s wall "
            f"({worst['cpu']:.1f} s CPU), under {wall_goal} s {met(worst['wall'] < wall_goal)}; "
            f"peak RSS at most {heaviest['rss_mb'] / 1024:.2f} GiB ({heaviest['label']}), under "
            f"{rss_goal} GiB {met(heaviest['rss_mb'] < rss_goal * 1024)}; worst / fastest "
            f"({fastest['label']}) {worst['wall'] / fastest['wall']:.2f}× wall, "
            f"{worst['cpu'] / fastest['cpu']:.2f}× CPU, within 1.5× "
            f"{met(worst['wall'] / fastest['wall'] <= 1.5)}.")
    return "\n".join(lines) + "\n" if lines else "(No N = 1M in this run: goals not judged.)\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="*", help="numbers of people")
    parser.add_argument("--data", type=Path, default=ROOT / "out" / "bench",
                        help="where generated inputs are kept between runs")
    parser.add_argument("--shapes", default=",".join(SHAPES),
                        help="comma-separated: " + ", ".join(SHAPES))
    parser.add_argument("--no-datacompy", action="store_true")
    parser.add_argument("--json", type=Path, help="append each result as a JSON line here")
    parser.add_argument("--write", type=Path, help="write the Markdown report here")
    parser.add_argument("--from-json", type=Path, nargs="+", metavar="LOG", help=(
        "render the report from results that --json recorded (runs of several sessions, "
        "e.g. the one-off 3M run beside make bench's), instead of running anything"))
    args = parser.parse_args(argv)
    if args.from_json:
        recorded = [json.loads(line) for log in args.from_json
                    for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]
        report(args, [r for r in recorded if "route" not in r],
               [r for r in recorded if r.get("route") == "datacompy"])
        return
    shapes = args.shapes.split(",")
    unknown = [shape for shape in shapes if shape not in SHAPES]
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r}; choose from {', '.join(SHAPES)}")
    results: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    for n in args.n:
        folders = ensure_data(n, args.data, shapes)
        for shape in shapes:
            result = run_shape(n, shape, folders[SHAPES[shape][3]])
            results.append(result)
            print(f"N={n:,} {shape}: {result['wall']:.1f} s ({result['cpu']:.1f} s CPU), "
                  f"{result['rss_mb'] / 1024:.2f} GiB, readers {result['readers']}, exit "
                  f"{result['code']}, counts {'ok' if result['counts_ok'] else 'DIFFER'}",
                  file=sys.stderr)
            if args.json:
                with args.json.open("a", encoding="utf-8") as log:
                    log.write(json.dumps(result) + "\n")
        if not args.no_datacompy and "" in folders and (
                folders[""] / TARGET_SHAPES["list"]).exists():
            routes.append(run_datacompy(n, folders[""]))
            print(f"N={n:,} datacompy route: {routes[-1]}", file=sys.stderr)
            if args.json:
                with args.json.open("a", encoding="utf-8") as log:
                    log.write(json.dumps({"route": "datacompy", **routes[-1]}) + "\n")
    report(args, results, routes)


def report(args: argparse.Namespace, results: list[dict[str, Any]],
           routes: list[dict[str, Any]]) -> None:
    table = render(results, routes)
    print(table)
    print(verdict(results))
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(markdown(table, results, machine()), encoding="utf-8")


def markdown(table: str, results: list[dict[str, Any]], info: dict[str, str]) -> str:
    where = ", ".join(f"{k} {v}" for k, v in info.items())
    ns = ", ".join(people(n) for n in sorted({r["n"] for r in results}))
    return f"""# Benchmarks

Figures for N = {ns} people, written on {datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")}
by `benchmarks/bench_reconcile.py` (`make bench` runs 100k, 300k and 1M in every shape; the 3M
rows, when present, come from the one-off run the Makefile names, rendered together with
`--from-json`). Machine: {where}.

{(HERE / "notes_intro.md").read_text(encoding="utf-8")}
{table}
Goals (issue 19), judged from this run:

{verdict(results)}
{(HERE / "notes.md").read_text(encoding="utf-8")}"""


if __name__ == "__main__":
    main()
