"""How long the review workbooks of a large run take to write (goal: 1,000,000 people well
under a minute), as ``recon reconcile`` writes them: ``write_review`` with the config's
``review:`` settings (default: sheets of at most 10,000 rows; a plan with more ops than that is
split by category, one workbook each, and an index).

A synthetic run shaped like recon's: most people in sync, 8 % drift (two attributes each), 3 %
joiners (a full SCIM User each), 3 % leavers, 1 % rehires, plus orphans, conflicts and invalid
rows; the plan holds one op per person to change, with the payloads plan.py builds.

    .venv/bin/python benchmarks/bench_workbook.py 100000 1000000 [--evidence] [--split-by X]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from recon.core.approve import Approval
from recon.core.config import Review
from recon.io.workbook import write_review, write_workbook

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SHARES = {"in_sync": 0.82, "drift": 0.08, "joiner": 0.03, "leaver": 0.03, "rehire": 0.01,
          "conflict": 0.005, "invalid": 0.01, "departed": 0.015}


@dataclass(frozen=True)
class Meta:
    as_of: date = date(2026, 11, 15)
    hr_file: str = "workers.csv"
    hr_sha256: str = "a" * 64
    snapshot_source: str = "https://scim.example.com/v2"
    snapshot_digest: str = "b" * 64
    config_digest: str = "c" * 64
    generated_at: str = "2026-11-15T08:30:00+00:00"


@dataclass(frozen=True)
class Quality:
    invalid: pd.DataFrame


@dataclass(frozen=True)
class Run:
    identities: pd.DataFrame
    diffs: pd.DataFrame
    desired: pd.DataFrame
    quality: Quality
    meta: Meta


@dataclass(frozen=True)
class Plan:
    ops: pd.DataFrame
    digest: str


def synthetic_run(people: int, seed: int = 7) -> tuple[Run, Plan]:
    rng = np.random.default_rng(seed)
    names = list(SHARES)
    category = rng.choice(names, size=people, p=list(SHARES.values()))
    rows = np.arange(1, people + 1)
    keys = pd.Series([f"E{n:07d}" for n in rows], dtype="string")
    has_account = ~np.isin(category, ["joiner", "invalid", "departed", "conflict"])
    target = pd.Series([f"u-{n:07d}" for n in rows], dtype="string").where(has_account)
    identities = pd.DataFrame({
        "category": category, "hr_key": keys, "hr_row": pd.array(rows, dtype="Int64"),
        "target_id": target, "matched_by": pd.Series("employeeNumber", index=range(people)),
        "changed_attributes": "", "reason": "", "display_name": "Person " + keys,
        "user_name": keys.str.lower() + "@example.com",
    })
    orphans = pd.DataFrame({"category": "orphan", "target_id": [f"o-{n}" for n in range(500)],
                            "display_name": "Old account", "user_name": "old@example.com"})
    identities = pd.concat([identities, orphans], ignore_index=True)
    drift = identities[identities["category"] == "drift"]
    diffs = pd.concat([
        pd.DataFrame({"hr_key": drift["hr_key"], "hr_row": drift["hr_row"],
                      "target_id": drift["target_id"], "category": "drift",
                      "attribute": attribute, "before": "Old " + attribute,
                      "after": "New " + attribute})
        for attribute in ("title", f"{ENTERPRISE}:department")
    ]).sort_values("hr_row", kind="stable")
    desired = pd.DataFrame({
        "hire_date": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 2500, people),
                                                                  unit="D"),
        "termination_date": pd.NaT}, index=pd.Index(rows, name="hr_row"))
    invalid_rows = identities.loc[identities["category"] == "invalid", "hr_row"]
    invalid = pd.DataFrame({"rule": "email", "column": "Work Email",
                            "reason": "Work Email: not an e-mail"},
                           index=pd.Index(invalid_rows.to_numpy(), name="hr_row"))
    return Run(identities, diffs, desired, Quality(invalid), Meta()), _plan(identities)


def _op(action: str, method: str, row: pd.Series, payload: object,
        before: object) -> dict[str, object]:
    body = json.dumps([action, row["hr_key"], payload, before], sort_keys=True)
    return {"op_id": hashlib.sha256(body.encode()).hexdigest(), "action": action,
            "method": method, "path": "/Users", "target_id": row["target_id"],
            "hr_key": row["hr_key"], "hr_row": row["hr_row"], "category": row["category"],
            "payload": json.dumps(payload), "before": json.dumps(before), "etag": "",
            "risk": {"disable": "high", "enable": "medium"}.get(action, "low"), "match": ""}


def _plan(identities: pd.DataFrame) -> Plan:
    ops = []
    for _, row in identities[identities["category"].isin(
            ["drift", "joiner", "leaver", "rehire"])].iterrows():
        key = row["hr_key"]
        if row["category"] == "joiner":
            user = {"schemas": [USER, ENTERPRISE], "userName": f"{key}@example.com",
                    "externalId": key, "name": {"givenName": "New", "familyName": key},
                    "title": "Engineer", "emails": [{"type": "work", "value": f"{key}@x.com"}],
                    ENTERPRISE: {"employeeNumber": key, "department": "R&D",
                                 "manager": {"value": "u-0000001"}}, "active": True}
            ops.append(_op("create", "POST", row, user, {}))
        elif row["category"] == "drift":
            patch = {"schemas": [PATCH], "Operations": [
                {"op": "replace", "path": "title", "value": "New title"},
                {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "New dept"}]}
            ops.append(_op("update", "PATCH", row, patch,
                           {"title": "Old title", f"{ENTERPRISE}:department": "Old dept"}))
        else:
            active = row["category"] == "rehire"
            patch = {"schemas": [PATCH],
                     "Operations": [{"op": "replace", "path": "active", "value": active}]}
            ops.append(_op("enable" if active else "disable", "PATCH", row, patch,
                           {"active": not active}))
    frame = pd.DataFrame(ops)
    digest = hashlib.sha256("".join(sorted(frame["op_id"])).encode()).hexdigest()
    return Plan(frame, digest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("people", type=int, nargs="*", default=[100_000])
    parser.add_argument("--evidence", action="store_true",
                        help="write the evidence workbook (approval, push results, verification)")
    parser.add_argument("--split-by", default=None, help="review.split_by (default: none)")
    parser.add_argument("--max-rows", type=int, default=Review().max_rows_per_sheet,
                        help="review.max_rows_per_sheet")
    args = parser.parse_args()
    for people in args.people:
        run, plan = synthetic_run(people)
        extra: dict[str, object] = {}
        if args.evidence:
            ids = tuple(plan.ops["op_id"])
            extra = {
                "approval": Approval(plan.digest, ids, "auditor@example.com"),
                "push_results": pd.DataFrame({"op_id": list(ids), "status": "succeeded",
                                              "attempts": 1, "http_status": 200, "error": None}),
                "verification": pd.DataFrame({"op_id": list(ids), "converged": True}),
            }
        review = Review(split_by=args.split_by, max_rows_per_sheet=args.max_rows)
        with tempfile.TemporaryDirectory() as folder:
            started, cpu = time.perf_counter(), time.process_time()
            if args.evidence:
                paths = [write_workbook(Path(folder) / "evidence.xlsx", run, plan,  # type: ignore[arg-type]
                                        max_rows=args.max_rows, **extra)]
            else:
                paths = write_review(folder, run, plan, review=review)  # type: ignore[arg-type]
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            size = sum(p.stat().st_size for p in paths) / 1e6
        print(f"{people:>9,} people  {len(plan.ops):>7,} ops  {seconds:6.1f} s wall "
              f"({cpu:.1f} s CPU, load {os.getloadavg()[0]:.1f})  {size:6.1f} MB  "
              f"{len(paths)} workbook(s){'  (evidence)' if args.evidence else ''}")


if __name__ == "__main__":
    main()
