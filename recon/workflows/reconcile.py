"""The pipeline: HR extract × target snapshot → quality → map → match → classify → plan.

``snapshot`` reads the configured target, ``reconcile`` classifies every HR row and account
(reading the HR file and the target when not given them), ``plan`` turns the result into ops,
``check_quality`` runs the data-quality rules alone; a notebook calls the same functions as
the CLI. The run folder is written by ``recon.io.run.write_outputs``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pandas as pd

from recon.core.classify import classify
from recon.core.config import Config
from recon.core.expressions import EvalContext, compile_expression, evaluate_predicate
from recon.core.groupplan import group_op_rows
from recon.core.groups import classify_groups
from recon.core.mapping import desired_frame
from recon.core.match import match
from recon.core.normalize import current_frame
from recon.core.plan import Plan, extend_plan
from recon.core.plan_build import build_plan
from recon.core.quality import QualityResult, check, gate, with_warnings
from recon.core.quality_rules import zero_padded_keys
from recon.core.results import Reconciliation, RunMeta
from recon.core.snapshot import Snapshot
from recon.io.hr import HrExtract, read_hr
from recon.io.snapshots import read_snapshot

ALWAYS_READ = ["userName", "externalId", "displayName"]


def effective_as_of(config: Config, as_of: date | None = None) -> date:
    return as_of or config.as_of or datetime.now(UTC).date()


def snapshot(config: Config, *, insecure: bool = False, progress: bool = False) -> Snapshot:
    """Read the configured target: a SCIM service provider, Entra ID, or a saved file."""
    target = config.target
    if target.file is not None:
        return read_snapshot(config.resolve(target.file))
    if target.scim is not None:
        from recon.targets.scim import snapshot_scim

        return snapshot_scim(target.scim, insecure=insecure, progress=progress,
                             groups=config.groups is not None)
    if target.entra is not None:
        from recon.targets.entra.graph import snapshot_entra

        return snapshot_entra(target.entra, progress=progress)
    raise AssertionError("config validation guarantees one target")  # pragma: no cover


def check_quality(config: Config, hr: HrExtract | None = None) -> QualityResult:
    """The data-quality rules of the config over the HR extract (read when not given)."""
    hr = hr or read_hr(config.source, config.base_dir)
    return check(hr.frame, config, file=str(hr.path), numbers=hr.numbers)


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
    quality = check(hr.frame, config, file=str(hr.path), numbers=hr.numbers)
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
    matchable = current[~excluded.to_numpy(dtype=bool)]
    pairs = match(desired, matchable, config.match)
    quality = with_warnings(quality, zero_padded_keys(desired, matchable, pairs, config))
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


