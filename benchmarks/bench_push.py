"""Push throughput against scim2-server on loopback, next to the server's own capacity.

For each mode (single requests with concurrency 1, 4, 16, and Bulk) it starts a fresh
``scim2-server``, sends N creates with a bare httpx loop (the server's capacity: the same
requests, nothing else), then starts another fresh server and pushes the same N creates with
``recon.push`` (journal, preconditions, retries, results). It prints ops/s for both and
recon's overhead in percent of the bare time.

    .venv/bin/python benchmarks/bench_push.py            # 10,000 ops
    .venv/bin/python benchmarks/bench_push.py --ops 2000 --modes 1 bulk
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.plans: plans by hand

from recon.core.plan import Plan
from recon.testing import start_server, user
from recon.workflows.push import push
from tests.plans import approve_all, op_row, plan_of

BULK_CHUNK = 1000


def joiners(count: int) -> list[dict[str, Any]]:
    return [user(f"joiner{n:06d}@example.com", external_id=f"J{n:06d}", given="Pat",
                 family=f"Joiner{n}", title="Engineer", email=f"joiner{n:06d}@example.com",
                 employee_number=f"J{n:06d}", department="R&D") for n in range(count)]


def bare_singles(url: str, resources: list[dict[str, Any]], concurrency: int) -> None:
    """The same POSTs, as fast as a plain loop (threads for concurrency) can send them."""
    with httpx.Client(base_url=url, timeout=60,
                      limits=httpx.Limits(max_connections=concurrency)) as http:
        def post(resource: dict[str, Any]) -> None:
            response = http.post("/Users", json=resource,
                                 headers={"Content-Type": "application/scim+json"})
            assert response.status_code == 201, response.text

        if concurrency == 1:
            for resource in resources:
                post(resource)
            return
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, resources))


def bare_bulk(url: str, resources: list[dict[str, Any]]) -> None:
    with httpx.Client(base_url=url, timeout=300) as http:
        for start in range(0, len(resources), BULK_CHUNK):
            operations = [{"method": "POST", "path": "/Users", "bulkId": str(start + i),
                           "data": resource}
                          for i, resource in enumerate(resources[start:start + BULK_CHUNK])]
            response = http.post("/Bulk", json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": operations})
            assert response.status_code == 200, response.text


@dataclass
class Timing:
    """Wall seconds, and CPU seconds spent in this (client) process — the server runs apart."""

    wall: float
    cpu: float


def timed(action: Callable[[], object]) -> Timing:
    began, cpu = time.perf_counter(), time.process_time()
    action()
    return Timing(time.perf_counter() - began, time.process_time() - cpu)


def run_mode(mode: str, resources: list[dict[str, Any]], plan: Plan) -> tuple[Timing, Timing]:
    """Seconds for the bare loop and for recon.workflows.push_scim, each on a fresh server."""
    concurrency = 1 if mode == "bulk" else int(mode)
    with start_server() as server:
        if mode == "bulk":
            bare = timed(lambda: bare_bulk(server.url, resources))
        else:
            bare = timed(lambda: bare_singles(server.url, resources, concurrency))
    with start_server() as server, tempfile.TemporaryDirectory() as folder:
        client = server.client(timeout=300)
        result: list[Any] = []
        pushed = timed(lambda: result.append(push(
            plan, approve_all(plan), client, Path(folder) / "journal.db",
            concurrency=concurrency, use_bulk=mode == "bulk", progress=False)))
        assert result[0].ok, result[0].counts()
        assert client.count() == len(resources)
    return bare, pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=10_000)
    parser.add_argument("--modes", nargs="+", default=["1", "4", "16", "bulk"])
    args = parser.parse_args(argv)

    resources = joiners(args.ops)
    plan = plan_of([
        op_row("create", payload=resource, hr_key=resource["externalId"],
               match={"userName": resource["userName"], "externalId": resource["externalId"]})
        for resource in resources])
    print(f"push benchmark: {args.ops:,} creates to scim2-server on 127.0.0.1 "
          f"(Python {sys.version.split()[0]})")
    print("client CPU: milliseconds of CPU per op in this process (the server runs apart); on a "
          "shared machine it is the steadier measure of what recon adds.")
    print(f"{'mode':<14}{'server (bare httpx)':>22}{'recon push':>14}{'overhead':>10}"
          f"{'client CPU bare / recon':>28}")
    for mode in args.modes:
        bare, pushed = run_mode(mode, resources, plan)
        label = "bulk" if mode == "bulk" else f"concurrency {mode}"
        overhead = 100.0 * (pushed.wall - bare.wall) / bare.wall
        print(f"{label:<14}{args.ops / bare.wall:>16,.0f} ops/s"
              f"{args.ops / pushed.wall:>8,.0f} ops/s{overhead:>9.1f}%"
              f"{1000 * bare.cpu / args.ops:>14.2f} /{1000 * pushed.cpu / args.ops:>5.2f} ms/op",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
