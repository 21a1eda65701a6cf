"""The pipeline: HR extract × target snapshot → quality → map → match → classify → plan.

Pure apart from ``snapshot`` (which reads the configured target) and ``write_outputs``; a
notebook calls the same functions as the CLI.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pandas as pd

from recon.adapters.hr import HrExtract, read_hr
from recon.adapters.snapshot import Snapshot, read_snapshot
from recon.classify import classify
from recon.config import Config
from recon.csv_out import write_csv
from recon.expressions import EvalContext, compile_expression, evaluate_predicate
from recon.groupplan import group_op_rows
from recon.groups import GroupReconciliation, classify_groups
from recon.mapping import desired_frame
from recon.match import match
from recon.normalize import current_frame
from recon.plan import Plan, build_plan, extend_plan, write_plan
from recon.quality import QualityResult, check, gate, write_quality

ALWAYS_READ = ["userName", "externalId", "displayName"]


@dataclass(frozen=True)
class RunMeta:
    as_of: date
    hr_file: str
    hr_sha256: str
    snapshot_source: str
    snapshot_digest: str
    config_digest: str
    generated_at: str

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "as_of": self.as_of.isoformat()}


@dataclass(frozen=True)
class Reconciliation:
    identities: pd.DataFrame
    diffs: pd.DataFrame
    desired: pd.DataFrame
    current: pd.DataFrame
    quality: QualityResult
    meta: RunMeta
    wanted: pd.DataFrame  # normalized desired values per SCIM path, references resolved
    # Groups and memberships (recon.groups) when the config has ``groups:`` and the snapshot
    # holds the target's groups; None otherwise (no group is planned from a snapshot without).
    groups: GroupReconciliation | None = None

    def counts(self) -> pd.Series:
        return self.identities.groupby("category").size().sort_values(ascending=False)

    def category(self, name: str) -> pd.DataFrame:
        return self.identities[self.identities["category"] == name]


def effective_as_of(config: Config, as_of: date | None = None) -> date:
    return as_of or config.as_of or datetime.now(UTC).date()


def snapshot(config: Config, *, insecure: bool = False, progress: bool = False) -> Snapshot:
    """Read the configured target: a SCIM service provider, Entra ID, or a saved file."""
    target = config.target
    if target.file is not None:
        return read_snapshot(config.resolve(target.file))
    if target.scim is not None:
        from recon.adapters.scim import connect

        with connect(target.scim, insecure=insecure) as client:
            return client.snapshot(groups=config.groups is not None)
    if target.entra is not None:
        from recon.adapters.entra import snapshot_entra

        return snapshot_entra(target.entra, progress=progress)
    raise AssertionError("config validation guarantees one target")  # pragma: no cover


def target_paths(config: Config) -> list[str]:
    paths = [*ALWAYS_READ, *config.attributes, *(rule.target for rule in config.match)]
    if config.target.exclude:
        paths.extend(sorted(compile_expression(config.target.exclude).columns))
    return list(dict.fromkeys(paths))


def reconcile(
    config: Config,
    hr: HrExtract | None = None,
    target: Snapshot | None = None,
    *,
    as_of: date | None = None,
) -> Reconciliation:
    """Classify every HR row and every account; nothing is dropped, nothing counted twice."""
    day = effective_as_of(config, as_of)
    hr = hr or read_hr(config.source, config.base_dir)
    target = target if target is not None else snapshot(config)
    config.check_expressions(list(hr.frame.columns))
    quality = check(hr.frame, config, file=str(hr.path))
    gate(quality, len(hr.frame), config)
    context = EvalContext(now=datetime.combine(day, time()))
    desired = desired_frame(hr.frame, config, day, context)
    current = current_frame(target, target_paths(config))
    snapshot_source, snapshot_digest, snapshot_groups = target.source, target.digest, target.groups
    del target  # the resource dicts are a run's largest object: let them go once flattened
    excluded = (
        evaluate_predicate(config.target.exclude, current, context)
        if config.target.exclude else pd.Series(False, index=current.index)
    )
    pairs = match(desired, current[~excluded.to_numpy(dtype=bool)], config.match)
    result = classify(desired, current, excluded, pairs, quality.invalid["reason"], config, day)
    groups = None
    if config.groups is not None and snapshot_groups is not None:
        groups = classify_groups(config, hr.frame, desired, result.identities,
                                 quality.invalid.index, current["target_id"], snapshot_groups,
                                 context)
    meta = RunMeta(
        as_of=day, hr_file=str(hr.path), hr_sha256=hr.sha256, snapshot_source=snapshot_source,
        snapshot_digest=snapshot_digest, config_digest=config.digest,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return Reconciliation(result.identities, result.diffs, desired, current, quality, meta,
                          result.desired_values, groups)


def plan(reconciliation: Reconciliation, config: Config) -> Plan:
    r = reconciliation
    users = build_plan(r.identities, r.diffs, r.wanted, r.current, config,
                       r.meta.snapshot_digest, r.meta.as_of)
    if r.groups is None or config.groups is None:
        return users
    # Group ops follow the user ops; adds for joiners refer to their create ops (groupplan).
    return extend_plan(users, group_op_rows(r.groups, users.ops, config.groups))


def write_outputs(reconciliation: Reconciliation, the_plan: Plan, out: Path) -> dict[str, Path]:
    """identities.csv, diffs.csv, invalid.csv, plan.json and meta.json in the run folder."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "identities": out / "identities.csv",
        "diffs": out / "diffs.csv",
        "invalid": out / "invalid.csv",
        "plan": out / "plan.json",
        "meta": out / "meta.json",
    }
    # write_csv writes what DataFrame.to_csv would, byte for byte (recon/csv_out.py).
    write_csv(reconciliation.identities, files["identities"], index=False)
    write_csv(reconciliation.diffs, files["diffs"], index=False)
    write_csv(reconciliation.quality.invalid, files["invalid"], index=True)
    if reconciliation.groups is not None:
        files["groups"] = out / "groups.csv"
        files["memberships"] = out / "memberships.csv"
        write_csv(reconciliation.groups.groups, files["groups"], index=False)
        write_csv(reconciliation.groups.memberships, files["memberships"], index=False)
    write_plan(the_plan, files["plan"])
    files["quality"], files["quality_html"] = write_quality(reconciliation.quality, out)
    meta = {**reconciliation.meta.to_json(), "plan_digest": the_plan.digest,
            "counts": {k: int(v) for k, v in reconciliation.counts().items()},
            "ops": len(the_plan.ops)}
    if reconciliation.groups is not None:
        meta["groups"] = {k: int(v) for k, v in reconciliation.groups.counts().items()}
        meta["memberships"] = {k: int(v)
                               for k, v in reconciliation.groups.member_counts().items()}
    files["meta"].write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return files
