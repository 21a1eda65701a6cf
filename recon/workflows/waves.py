"""Waves of a migration, one call each: plan them, approve one, and see how far each has got.

``plan_waves`` puts every op of a plan in its wave (recon.core.waves); ``wave_rules`` reads
``--wave`` (a configured wave's name, or a predicate written out); ``approve_wave`` narrows an
approval to one wave's ops, read from the run folder; ``wave_progress`` is ``recon waves``:
per wave, people, ops by action, pushed, converged and failed, from the run folder and its
journals.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from datetime import datetime
from datetime import time as time_of_day
from pathlib import Path

import pandas as pd

from recon.core.approve import Approval, check_approval, for_ops
from recon.core.config import Config, Wave
from recon.core.expressions import EvalContext, compile_expression
from recon.core.plan import Plan
from recon.core.results import Reconciliation
from recon.core.waves import (
    Waves,
    assign_waves,
    is_expression,
    people_waves,
    rules_of,
    wave_frame,
)
from recon.errors import ConfigError, PlanError
from recon.io.hr import HrExtract, read_hr
from recon.io.plan_files import read_plan
from recon.io.run import journal_states, read_identities, read_waves, verification_states
from recon.io.workbook import read_approvals

#: Journal statuses that count as pushed; anything else final counts as failed.
PUSHED = ("succeeded", "already_applied")
NOT_FINAL = ("pending", "dry_run", "skipped")


def wave_rules(config: Config, wave: str | None = None) -> tuple[Wave, ...]:
    """The waves to plan with: the config's, with ``wave`` (``--wave``) checked — a configured
    wave's name (ConfigError with the closest name otherwise), or a predicate written out,
    which becomes a wave of its own, named by its text, ahead of the configured ones."""
    rules = tuple(config.waves)
    if wave is None:
        return rules
    if is_expression(wave):
        compile_expression(wave)  # an ExpressionError names the mistake
        return (Wave(name=wave, when=wave), *rules)
    names = [rule.name for rule in rules]
    if wave not in names:
        close = difflib.get_close_matches(wave, names, n=1, cutoff=0.5)
        hint = (f"did you mean {close[0]!r}?" if close else
                f"waves: {', '.join(names)}" if names else
                "the config has no waves: section; give a predicate, e.g. "
                "--wave '[Location] = \"Oslo\"'")
        raise ConfigError(f"{config.name}: unknown wave {wave!r} ({hint})")
    return rules


def plan_waves(config: Config, result: Reconciliation, plan: Plan,
               hr: HrExtract | None = None, *,
               waves: Sequence[Wave] | Mapping[str, str] | None = None) -> Waves:
    """Every op of ``plan`` in its wave (``waves``, else the config's): people per wave, the
    plan with membership ops cut per wave (``Waves.plan``), and the dependencies between
    waves. ``hr`` is the extract the reconciliation was made from (read again when None)."""
    rules = rules_of(waves) if waves is not None else tuple(config.waves)
    if not rules:
        raise ConfigError(f"{config.name}: no waves to plan: add a waves: section, or give "
                          "waves (name → predicate)")
    extract = hr if hr is not None else read_hr(config.source, config.base_dir)
    frame = wave_frame(result.identities, extract.frame, result.current, rules)
    context = EvalContext(now=datetime.combine(plan.as_of, time_of_day()))
    people = people_waves(rules, frame, context)
    managers = {path: result.desired[path] for path in config.reference_attributes()
                if path in result.desired}
    names: dict[str, str] = {}
    if result.groups is not None:
        known = result.groups.groups.dropna(subset=["target_id"])
        names = dict(zip(known["target_id"].astype(str), known["group"].astype(str),
                         strict=True))
    return assign_waves(rules, plan, result.identities, people, managers, names)


def approve_wave(approval: Approval, plan_file: str | Path, wave: str,
                 plan: Plan | None = None) -> tuple[Approval, Waves]:
    """``approve --wave``: the approval narrowed to the wave's ops, as the run folder beside
    ``plan_file`` records them (PlanError for an unknown wave, with the closest name)."""
    folder = Path(plan_file).parent
    the_plan = plan if plan is not None else read_plan(plan_file)
    waves = read_waves(folder, the_plan)
    name = waves.check(wave)
    if waves.selected is not None and waves.selected != name:
        raise PlanError(f"{plan_file} holds wave {waves.selected!r} only: reconcile --wave "
                        f"{name!r} into a new folder to plan that wave")
    return for_ops(approval, waves.op_ids(name), note=f"wave {name}"), waves


def read_workbook_approval(plan_file: str | Path, workbooks: list[Path], plan: Plan, *,
                           approver: str, note: str = "") -> Approval:
    """The approval reviewed workbooks mark (as ``recon approve --workbook``), checked against
    the run folder beside ``plan_file``; a folder stands for every workbook in it."""
    identities, groups = read_identities(Path(plan_file).parent)
    files: list[Path] = []
    for one in workbooks:
        files += sorted(one.glob("*.xlsx")) if one.is_dir() else [one]
    approval = read_approvals(files, plan, approver=approver, identities=identities,
                              groups=groups, note=note)
    check_approval(plan, approval)
    return approval


def wave_progress(run_dir: str | Path, journals: Sequence[str | Path] = ()) -> pd.DataFrame:
    """``recon waves --run DIR``: per wave (and for ops in no wave), people, ops by action,
    pushed, converged and failed, from the run folder's waves record, its journals
    (``*.sqlite`` there, plus ``journals``) and its verification*.csv."""
    folder = Path(run_dir)
    waves = read_waves(folder)
    found = sorted(folder.glob("*.sqlite"))
    files = [*found, *(Path(j) for j in journals if Path(j).resolve() not in
                       {f.resolve() for f in found})]
    states = journal_states(files)
    converged = verification_states(folder)
    return progress(waves, states, converged)


def progress(waves: Waves, states: pd.DataFrame, converged: pd.DataFrame) -> pd.DataFrame:
    """The progress table from the op → wave record, journal states and verification."""
    ops = waves.ops[["op_id", "wave"]]
    status = ops["op_id"].map(states.set_index("op_id")["status"]) if len(states) else (
        pd.Series(pd.NA, index=ops.index, dtype="string"))
    pushed = status.isin(list(PUSHED))
    failed = status.notna() & ~pushed & ~status.isin(list(NOT_FINAL))
    checked = ops["op_id"].map(converged.set_index("op_id")["converged"]) if len(converged) \
        else pd.Series(pd.NA, index=ops.index, dtype="boolean")
    flags = pd.DataFrame({"wave": ops["wave"], "pushed": pushed.astype("int64"),
                          "converged": checked.fillna(False).astype(bool).astype("int64"),
                          "failed": failed.astype("int64")})
    per_wave = flags.groupby("wave").sum()
    table = waves.summary()
    for column in ("pushed", "converged", "failed"):
        table[column] = table["wave"].map(per_wave[column]).fillna(0).astype("int64")
    return table
