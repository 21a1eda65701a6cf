"""Push through a misbehaving network, and through crashes: every approved op lands exactly once.

The real ``scim2-server`` runs on loopback behind a fault-injecting proxy (500s, lost replies,
429 with Retry-After, dropped connections, slow answers). The final state is read from the server
itself: no duplicate accounts, every create/update/disable in place.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from recon.core.scim import ENTERPRISE
from recon.io.journal import Journal
from recon.targets.scim import ScimClient
from recon.testing import FaultProxy, Faults, RunningServer, seed, user
from recon.workflows.push import push
from recon.workflows.push_scim import RetryPolicy
from tests.plans import approve_all, op_row, patch_op, plan_of

pytestmark = [pytest.mark.slow, pytest.mark.integration]

PATIENT = RetryPolicy(max_tries=10, base_delay=0.02, max_delay=0.3, max_retry_after=2.0)
EXISTING, JOINERS = 30, 30


@pytest.fixture()
def server(scim_server: RunningServer) -> RunningServer:
    return scim_server


def workload(client: ScimClient) -> list[dict[str, Any]]:
    """30 existing accounts (20 get a new title, 10 are disabled) and 30 joiners."""
    seed(client, [user(f"old{n:02d}@example.com", external_id=f"O{n:02d}", title="Engineer",
                       employee_number=f"O{n:02d}") for n in range(EXISTING)])
    accounts = sorted(client.users(), key=lambda r: r["userName"])
    rows = [op_row("create", hr_key=f"N{n:02d}",
                   match={"userName": f"new{n:02d}@example.com", "externalId": f"N{n:02d}"},
                   payload=user(f"new{n:02d}@example.com", external_id=f"N{n:02d}",
                                title="Joiner", employee_number=f"N{n:02d}"))
            for n in range(JOINERS)]
    for n, account in enumerate(accounts):
        if n < 20:
            rows.append(op_row("update", target_id=account["id"], etag=account["meta"]["version"],
                               payload=patch_op(("replace", "title", f"Senior {n}")),
                               before={"title": "Engineer", "active": True}))
        else:
            rows.append(op_row("disable", target_id=account["id"],
                               etag=account["meta"]["version"],
                               payload=patch_op(("replace", "active", False)),
                               before={"active": True}))
    return rows


def assert_applied_exactly_once(client: ScimClient) -> None:
    users = client.users()
    names = Counter(r["userName"] for r in users)
    assert max(names.values()) == 1, "duplicate accounts"
    assert len(users) == EXISTING + JOINERS
    by_name = {r["userName"]: r for r in users}
    for n in range(JOINERS):
        joiner = by_name[f"new{n:02d}@example.com"]
        assert (joiner["externalId"], joiner[ENTERPRISE]["employeeNumber"]) == (
            f"N{n:02d}", f"N{n:02d}")
    olds = sorted(r for r in by_name if r.startswith("old"))
    assert [by_name[name]["title"] for name in olds[:20]] == [f"Senior {n}" for n in range(20)]
    assert all(by_name[name].get("active") is False for name in olds[20:])


def assert_journal_done(path: Path, op_ids: set[str]) -> None:
    with Journal(path) as journal:
        assert journal.done() == op_ids
        attempts = journal.attempts_frame()
    succeeded = attempts[attempts["outcome"] == "succeeded"]
    assert succeeded["op_id"].is_unique, "an op was applied twice"


@pytest.mark.parametrize("use_bulk", [False, True], ids=["single", "bulk"])
def test_push_survives_a_misbehaving_network(server: RunningServer, tmp_path: Path,
                                             use_bulk: bool) -> None:
    rows = workload(server.client())
    faults = Faults(error=0.06, error_after=0.06, throttle=0.04, drop=0.06, drop_after=0.06,
                    slow=0.05, slow_seconds=0.1, retry_after="1", max_faults=40,
                    spare=())  # discovery misbehaves too
    with FaultProxy(server.url, faults, seed=7 + use_bulk) as proxy:
        client = ScimClient(httpx.Client(base_url=proxy.url, timeout=30))
        plan = plan_of(rows)
        result = push(plan, approve_all(plan), client, tmp_path / "push.db",
                      concurrency=4, use_bulk=use_bulk, progress=False, retry=PATIENT)
        injected = sum(proxy.injected.values())
    assert injected > 5, "the proxy should have misbehaved"
    assert result.ok, result.results[result.results["status"] != "succeeded"].to_string()
    assert_applied_exactly_once(server.client())
    assert_journal_done(tmp_path / "push.db", set(plan.ops["op_id"]))


CHILD = """
import json, sys
import httpx
from recon.targets.scim import ScimClient
from recon.workflows.push import push
from recon.workflows.push_scim import RetryPolicy
from tests.plans import approve_all, plan_of
rows, url, journal = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3]
plan = plan_of(rows)
client = ScimClient(httpx.Client(base_url=url, timeout=30))
print("ready", flush=True)
result = push(plan, approve_all(plan), client, journal, concurrency=4,
              use_bulk=sys.argv[4] == "bulk", progress=False,
              retry=RetryPolicy(max_tries=10, base_delay=0.02, max_delay=0.3))
sys.exit(0 if result.ok else 1)
"""


def run_child(args: list[str], kill_after: float | None) -> int | None:
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        if kill_after is None:
            return child.wait(timeout=120)
        time.sleep(kill_after)
        child.kill()  # SIGKILL: no cleanup, no flush, mid-request
        child.wait(timeout=10)
        return None
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)


@pytest.mark.parametrize("mode", ["single", "bulk"])
def test_killed_pushes_resume_to_exactly_once(server: RunningServer, tmp_path: Path,
                                              mode: str) -> None:
    rows = workload(server.client())
    (tmp_path / "plan.json").write_text(json.dumps(rows))
    journal = tmp_path / "push.db"
    # Slow answers stretch the push so that the kills land in the middle of it (a Bulk push
    # is a couple of requests: those are made slow).
    faults = (Faults(slow=0.6, slow_seconds=0.03, error_after=0.03, drop_after=0.03,
                     max_faults=10_000) if mode == "single"
              else Faults(slow=1.0, slow_seconds=0.4, only=("/Bulk",), max_faults=10_000))
    rng = random.Random(4 if mode == "single" else 5)
    with FaultProxy(server.url, faults, seed=11) as proxy:
        args = [str(tmp_path / "plan.json"), proxy.url, str(journal), mode]
        for _ in range(3):
            run_child(args, kill_after=rng.uniform(0.05, 0.6))
        with Journal(journal) as opened:
            interrupted = len(opened.done())
        assert run_child(args, kill_after=None) == 0
    assert interrupted < len(rows), "the kills should have interrupted the push"
    assert_applied_exactly_once(server.client())
    assert_journal_done(journal, {row["op_id"] for row in rows})
