"""A live snapshot: recon reading N users from scim2-server on loopback, against a bare loop.

    python benchmarks/bench_live.py 100000

The real ``scim2-server`` application and WSGI server run in a child process on 127.0.0.1,
seeded before it listens with the generator's users (``start_server(users=…)``: its storage
filled directly, ids kept — creating 100,000 users over HTTP, ``seed``, takes many minutes on
this server). Then, in the same run and against the same server:

1. the baseline: a bare ``httpx`` loop over ``GET /Users?startIndex=…&count=…`` with the same
   page size and sort recon asks for, each page parsed (``response.json()``), nothing else;
2. recon: ``ScimClient.snapshot()``, what ``recon snapshot`` and ``recon reconcile`` call
   (discovery, paging that must end complete — recon.targets.scim_paging — and the snapshot's
   canonical digest);
3. recon's snapshot saved and read back as JSON lines, to show the read is equal to the file.

scim2-server sorts the whole listing for every page it serves, so a page of a 100,000-user
target costs the server far more than the client: the figure that matters is what recon adds
over the bare loop. Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from recon.targets.scim import DEFAULT_PAGE_SIZE  # noqa: E402
from recon.testing.scimserver import start_server  # noqa: E402


def cpu_of(pid: int) -> float:
    """CPU seconds a process has used so far (the server's, read from /proc)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def bare_loop(url: str, page_size: int) -> tuple[int, int, float, float]:
    """(users read, pages, wall seconds, client CPU seconds) of the plainest paging loop."""
    start, cpu = time.perf_counter(), time.process_time()
    seen = pages = 0
    with httpx.Client(base_url=url, timeout=600) as http:
        index = 1
        while True:
            page = http.get("/Users", params={"startIndex": index, "count": page_size,
                                              "sortBy": "meta.created"}).json()
            resources = page.get("Resources") or []
            seen += len(resources)
            pages += 1
            index += len(resources)
            if not resources or index > int(page.get("totalResults", 0)):
                break
    return seen, pages, time.perf_counter() - start, time.process_time() - cpu


def recon_read(url: str, page_size: int) -> tuple[Any, float, float]:
    from recon.targets.scim import ScimClient

    start, cpu = time.perf_counter(), time.process_time()
    with httpx.Client(base_url=url, timeout=600) as http:
        taken = ScimClient(http, page_size=page_size).snapshot()
    return taken, time.perf_counter() - start, time.process_time() - cpu


def measure(n: int, data: Path, page_size: int) -> dict[str, Any]:
    import generate

    folder = data / f"live-{n}"
    if not (folder / "snapshot.jsonl").exists():
        generate.generate(n, folder, shapes=["csv", "jsonl"])
    users = folder / "snapshot.jsonl"
    load = [os.getloadavg()[0]]
    start = time.perf_counter()
    with start_server(users=users, startup_timeout=1800) as server:
        seeded = time.perf_counter() - start
        server_cpu = cpu_of(server.process.pid)
        seen, pages, bare_wall, bare_cpu = bare_loop(server.url, page_size)
        bare_server_cpu = cpu_of(server.process.pid) - server_cpu
        taken, recon_wall, recon_cpu = recon_read(server.url, page_size)
        recon_server_cpu = cpu_of(server.process.pid) - server_cpu - bare_server_cpu
    load.append(os.getloadavg()[0])
    from recon.io.snapshots import read_snapshot, write_snapshot

    with tempfile.TemporaryDirectory() as scratch:
        saved = Path(scratch) / "live.jsonl"
        write_snapshot(taken, saved)
        again = read_snapshot(saved)
        same = again.count == taken.count and sorted(
            again.resources, key=lambda u: u["id"]) == sorted(taken.resources,
                                                              key=lambda u: u["id"])
    return {"n": n, "accounts": taken.count, "bare_users": seen, "seeded": seeded,
            "page_size": page_size, "pages": pages, "bare_wall": bare_wall, "bare_cpu": bare_cpu,
            "bare_server_cpu": bare_server_cpu, "recon_wall": recon_wall,
            "recon_cpu": recon_cpu, "recon_server_cpu": recon_server_cpu, "load": load,
            "saved_and_read_back_equal": same}


def render(r: dict[str, Any]) -> str:
    served = -(-r["accounts"] // r["pages"]) if r["pages"] else 0
    capped = "" if served >= r["page_size"] else f", {r['page_size']} asked for"
    return "\n".join([
        f"Live snapshot of {r['accounts']:,} users from scim2-server on 127.0.0.1 "
        f"({r['pages']:,} pages of {served:,}{capped}; server seeded before it listened in "
        f"{r['seeded']:.0f} s; load average {r['load'][0]:.1f} → {r['load'][1]:.1f}):", "",
        "| read | wall | client CPU | server CPU |", "|---|---:|---:|---:|",
        f"| bare httpx paging loop | {r['bare_wall']:.1f} s | {r['bare_cpu']:.1f} s | "
        f"{r['bare_server_cpu']:.1f} s |",
        f"| recon `ScimClient.snapshot()` | {r['recon_wall']:.1f} s | {r['recon_cpu']:.1f} s | "
        f"{r['recon_server_cpu']:.1f} s |",
        f"| **recon / bare loop** | **{r['recon_wall'] / r['bare_wall']:.2f}×** | "
        f"+{r['recon_cpu'] - r['bare_cpu']:.1f} s | |", "",
        f"Users read: bare loop {r['bare_users']:,}, recon {r['accounts']:,}; recon's snapshot "
        f"saved as JSON lines and read back: "
        f"{'equal' if r['saved_and_read_back_equal'] else 'DIFFERENT'}.", ""])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT / "out" / "bench")
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE)
    args = parser.parse_args(argv)
    print(render(measure(args.n, args.data, args.page_size)))


if __name__ == "__main__":
    main()
