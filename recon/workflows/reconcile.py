"""The pipeline: HR extract × target snapshot → quality → map → match → classify → plan.

``snapshot`` reads the configured target, ``reconcile`` classifies every HR row and account
(reading the HR file and the target when not given them), ``plan`` turns the result into ops,
``check_quality`` runs the data-quality rules alone; a notebook calls the same functions as
the CLI. The run folder is written by ``recon.io.run.write_outputs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from pathlib import Path

import pandas as pd

from recon.core.categories import ORDER
from recon.core.classify import classify
from recon.core.config import Config
from recon.core.expressions import EvalContext, compile_expression, evaluate_predicate
from recon.core.groupplan import group_op_rows
from recon.core.groups import classify_groups
from recon.core.key_shape import shape_conflicts
from recon.core.mapping import desired_frame
from recon.core.match import match
from recon.core.normalize import current_frame
from recon.core.plan import Plan, extend_plan
from recon.core.plan_build import build_plan
from recon.core.quality import (
    QualityResult,
    check,
    gate,
    prepared_alongside,
    with_warnings,
)
from recon.core.quality_rules import zero_padded_keys
from recon.core.results import Reconciliation, RunMeta
from recon.core.schema import TargetSchema, check_target_paths
from recon.core.snapshot import Snapshot
from recon.errors import ConfigError
from recon.io.hr import HrExtract, read_hr
from recon.io.snapshots import read_snapshot
from recon.targets.entra.compare import synced_accounts, written_only

ALWAYS_READ = ["userName", "externalId", "displayName"]


def effective_as_of(config: Config, as_of: date | None = None) -> date:
    return as_of or config.as_of or datetime.now(UTC).date()


def snapshot(config: Config, *, insecure: bool = False, progress: bool = False,
             delta_state: Path | None = None) -> Snapshot:
    """Read the configured target: a SCIM service provider, Entra ID, or a saved file.

    ``delta_state`` (Entra only): a folder where Graph's users/delta link is kept between runs,
    so that a repeated snapshot reads only what changed (docs/entra.md)."""
    target = config.target
    if delta_state is not None:
        if target.entra is None:
            raise ConfigError(f"{config.name}: a delta snapshot is for target.entra; this "
                              "target has no delta query")
        from recon.targets.entra.delta import snapshot_delta

        return snapshot_delta(target.entra, delta_state, progress=progress)
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


#: Called as each stage of a run ends: (stage, what it found, seconds). The CLI prints a line.
StageReport = Callable[[str, str, float], None]


def _silent(stage: str, detail: str, seconds: float) -> None:
    """The default stage report: nothing."""


class _Stopwatch:
    """Times one stage and reports it when the detail is known."""

    def __init__(self, report: StageReport) -> None:
        self.report = report
        self.started = time.perf_counter()

    def done(self, stage: str, detail: str) -> None:
        now = time.perf_counter()
        self.report(stage, detail, now - self.started)
        self.started = now

    def took(self, stage: str, detail: str, seconds: float) -> None:
        """A stage timed elsewhere (the two reads overlap); the next stage starts now."""
        self.report(stage, detail, seconds)
        self.started = time.perf_counter()


def hr_detail(hr: HrExtract) -> str:
    """What the "read HR" stage line says."""
    return f"{len(hr.frame):,} rows, {len(hr.frame.columns)} columns from {hr.path.name}"


def target_detail(target: Snapshot) -> str:
    """What the "read target" stage line says."""
    return f"{target.count:,} accounts from {target.source}"


def read_inputs(config: Config, *, insecure: bool = False, progress: bool = False,
                delta_state: Path | None = None
                ) -> tuple[HrExtract, Snapshot, tuple[float, float]]:
    """The HR extract and the target, with the seconds each read took.

    The HR file is read first, so that a bad extract is reported before a long target read
    (minutes of paging for a live one). The reads take turns: each already uses both cores
    (pyarrow reads a CSV or a snapshot on every core; fastexcel parses a workbook twice side by
    side), and read side by side they took as long at 1M and peaked higher. Meanwhile a thread
    imports Great Expectations for the quality check that follows (``prepared_alongside``)."""
    with prepared_alongside():
        started = time.perf_counter()
        hr = read_hr(config.source, config.base_dir)
        hr_seconds = time.perf_counter() - started
        target = snapshot(config, insecure=insecure, progress=progress, delta_state=delta_state)
        seconds = (hr_seconds, time.perf_counter() - started - hr_seconds)
    return hr, target, seconds


def counts_text(counts: Mapping[str, int], order: Sequence[str] = ORDER) -> str:
    """``joiner 12, leaver 3, in_sync 280`` in the categories' display order, zeros left out."""
    names = [n for n in order if counts.get(n)] + sorted(n for n in counts if n not in order)
    return ", ".join(f"{name} {counts[name]:,}" for name in names if counts.get(name))


def reconcile(
    config: Config,
    hr: HrExtract | None = None,
    target: Snapshot | None = None,
    *,
    as_of: date | None = None,
    stages: StageReport | None = None,
) -> Reconciliation:
    """Classify every HR row and every account; nothing is dropped, nothing counted twice.

    ``stages`` is told as each stage ends (read HR, read target, quality, map, match, classify)
    with what it found, so that a long run is never silent.
    """
    clock = _Stopwatch(stages or _silent)
    day = effective_as_of(config, as_of)
    if hr is None and target is None:
        hr, target, seconds = read_inputs(config)
        clock.took("read HR", hr_detail(hr), seconds[0])
        clock.took("read target", target_detail(target), seconds[1])
    if hr is None:
        hr = read_hr(config.source, config.base_dir)
        clock.done("read HR", hr_detail(hr))
    if target is None:
        target = snapshot(config)
        clock.done("read target", target_detail(target))
    config.check_expressions(list(hr.frame.columns))
    quality = check(hr.frame, config, file=str(hr.path), numbers=hr.numbers)
    gate(quality, len(hr.frame), config)
    clock.done("quality", f"{len(quality.invalid):,} rows quarantined, "
                          f"{len(quality.warnings):,} warnings")
    context = EvalContext(now=datetime.combine(day, time_of_day()))
    desired = desired_frame(hr.frame, config, day, context)
    current = current_frame(target, target_paths(config))
    clock.done("map", f"{len(config.attributes)} attributes for {len(desired):,} workers, "
                      f"{len(current):,} accounts read")
    snapshot_source, snapshot_digest = target.source, target.digest
    snapshot_groups = target.group_columns  # columns: no dict per member (recon.core.groups)
    synced = synced_accounts(target) if config.target.entra is not None else set()
    del target  # the resource dicts are a run's largest object: let them go once flattened
    excluded = (
        evaluate_predicate(config.target.exclude, current, context)
        if config.target.exclude else pd.Series(False, index=current.index)
    )
    matchable = current[~excluded.to_numpy(dtype=bool)]
    pairs = match(desired, matchable, config.match)
    quality = with_warnings(quality, zero_padded_keys(desired, matchable, pairs, config))
    clock.done("match", f"{len(pairs):,} candidate pairs, {int(excluded.sum()):,} accounts "
                        "excluded")
    result = classify(desired, current, excluded, pairs, quality.invalid["reason"], config, day)
    # A worker whose key matches an unmatched account only up to leading zeros is no joiner.
    result = replace(result, identities=shape_conflicts(result.identities, desired, current,
                                                        config))
    if config.target.entra is not None:  # only what the inbound app writes can converge
        result = written_only(result, config, synced)
    groups = None
    if config.groups is not None and snapshot_groups is not None:
        groups = classify_groups(config, hr.frame, desired, result.identities,
                                 quality.invalid.index, current["target_id"], snapshot_groups,
                                 context)
    counts = result.identities["category"].value_counts()
    clock.done("classify", counts_text({str(k): int(v) for k, v in counts.items()}))
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


def target_schema(config: Config, *, insecure: bool = False) -> TargetSchema:
    """The attributes the configured target has: the Graph property map for Entra; a SCIM
    target's own /Schemas when it serves them; RFC 7643's core User and enterprise extension
    otherwise (and for a saved snapshot). ``target.extensions`` are accepted as written."""
    extensions = config.target.extensions
    if config.target.entra is not None:
        from recon.targets.entra.mapping import GRAPH_ATTRIBUTES

        return TargetSchema.of_paths([a.scim_path for a in GRAPH_ATTRIBUTES],
                                     "the Graph properties recon maps (docs/entra.md)",
                                     extensions)
    if config.target.scim is not None:
        from recon.targets.scim import connect

        with connect(config.target.scim, insecure=insecure) as client:
            schemas = client.discover().schemas
        return TargetSchema.from_scim(
            [schema.model_dump(mode="json", by_alias=True, exclude_none=True)
             for schema in schemas], extensions)
    return TargetSchema.rfc7643(extensions)


def check_config(config: Config, *, insecure: bool = False) -> None:
    """Every attribute path of the config against the target's schema, before any work."""
    check_target_paths(config, target_schema(config, insecure=insecure))
