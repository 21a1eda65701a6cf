"""Shared by the Entra tests: a loopback tenant, an Entra target for it, hand-made plans.

Not a test module: the tests import what they use (the ``graph`` fixture included).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pandas as pd
import pytest

from recon.core.approve import Approval, approve
from recon.core.config import EntraTarget
from recon.core.plan import Plan, plan_digest
from recon.core.results import PushResult
from recon.core.scim import ENTERPRISE
from recon.testing.graph_server import DEFAULT_JOB_ID, DEFAULT_SP_ID, RunningGraph, running_graph

TOKEN_ENV = "RECON_TEST_GRAPH_TOKEN"
TOKEN = "loopback-test-token"
SP_ID = DEFAULT_SP_ID
JOB_ID = DEFAULT_JOB_ID
DEPARTMENT = f"{ENTERPRISE}:department"
EMPLOYEE_NUMBER = f"{ENTERPRISE}:employeeNumber"
MANAGER = f"{ENTERPRISE}:manager"


@pytest.fixture
def graph(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGraph]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with running_graph(TOKEN) as running:
        yield running


def entra(graph: RunningGraph, inbound: dict[str, Any] | None = None,
          **options: Any) -> EntraTarget:
    return EntraTarget(credential="token", token_env=TOKEN_ENV, graph_url=graph.url,
                       inbound={"service_principal_id": SP_ID, "job_id": JOB_ID,
                                **(inbound or {})}, **options)


def workers(count: int, *, start: int = 1000, manager: str | None = None) -> pd.DataFrame:
    """A desired frame (architecture.md) of ``count`` active workers."""
    keys = [str(start + n) for n in range(count)]
    return pd.DataFrame({
        "hr_key": keys,
        "worker_active": True,
        "in_scope": True,
        "userName": [f"emp{k}@contoso.com" for k in keys],
        "externalId": keys,
        "displayName": [f"Worker {k}" for k in keys],
        "name.givenName": "Worker",
        "name.familyName": keys,
        'emails[type eq "work"].value': [f"emp{k}@contoso.com" for k in keys],
        DEPARTMENT: "Sales",
        EMPLOYEE_NUMBER: keys,
        MANAGER: manager if manager is not None else pd.NA,
        "match_0": keys,
    }, index=pd.RangeIndex(1, count + 1, name="hr_row")).astype({MANAGER: "string"})


def plan_of(desired: pd.DataFrame, action: str | list[str] = "create") -> Plan:
    """A plan of one op per worker, in the Plan table's columns (architecture.md)."""
    actions = [action] * len(desired) if isinstance(action, str) else action
    ops = pd.DataFrame({
        "op_id": [f"{n:02d}{a}{k}".ljust(64, "0") for n, (a, k) in
                  enumerate(zip(actions, desired["hr_key"], strict=True))],
        "action": actions,
        "method": ["POST" if a == "create" else "PATCH" for a in actions],
        "path": ["/Users" if a == "create" else f"/Users/t{k}" for a, k in
                 zip(actions, desired["hr_key"], strict=True)],
        "target_id": ["" if a == "create" else f"t{k}" for a, k in
                      zip(actions, desired["hr_key"], strict=True)],
        "hr_key": desired["hr_key"].to_list(),
        "hr_row": desired.index.to_list(),
        "category": [{"create": "joiner", "disable": "leaver", "enable": "rehire",
                      "link": "link"}.get(a, "drift") for a in actions],
        "payload": "", "before": "", "etag": "", "risk": "low", "match": "",
    })
    return Plan(ops, plan_digest("s" * 64, ops["op_id"].to_list()), "s" * 64, date(2026, 11, 15))


def statuses(result: PushResult) -> dict[str, int]:
    return {k: v for k, v in result.counts().to_dict().items() if v}


def approve_all(plan: Plan) -> Approval:
    return approve(plan, approver="Ines Auditor", everything=True)
