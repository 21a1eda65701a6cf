"""The run folder: what ``recon reconcile --out DIR`` writes, and reading it back.

identities.csv, diffs.csv, invalid.csv (and groups.csv, memberships.csv), plan.json,
quality.json/html and meta.json; after a push, approval.json, the journal and verification.csv.

A run folder is append-only evidence: a new run never lands in a folder that holds one, unless
asked (``overwrite``), and never in one that holds an approval or a push journal, whose plan.json
is the evidence of what was approved and pushed.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from recon.core.plan import Plan
from recon.core.results import Reconciliation, RunMeta
from recon.core.waves import DEPENDENCY_COLUMNS, WAVES_FORMAT, Waves
from recon.core.waves import OP_COLUMNS as WAVE_OP_COLUMNS
from recon.errors import InputError, OutputError
from recon.io.csv_out import write_csv
from recon.io.plan_files import read_plan, write_plan
from recon.io.quality_report import write_quality

#: What makes a folder a run; and what makes it evidence of an approval or a push.
RUN_FILES = ("plan.json", "meta.json", "identities.csv")
EVIDENCE_PATTERNS = ("approval*.json", "*.sqlite", "journal*", "evidence*.xlsx",
                     "verification*.csv")


def check_run_folder(out: Path, *, overwrite: bool = False, plan_digest: str | None = None
                     ) -> None:
    """Refuse (OutputError, exit 2) a folder that holds a run, unless ``overwrite``; and a folder
    holding an approval or a journal in any case, unless it is the same plan written again
    (``plan_digest`` equal to the one there): evidence is never replaced by another run."""
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    held = [name for name in RUN_FILES if (out / name).exists()]
    if not held:
        return
    evidence = sorted({found.name for pattern in EVIDENCE_PATTERNS for found in out.glob(pattern)})
    same_plan = plan_digest is not None and _digest_in(out) == plan_digest
    if evidence and not (overwrite and same_plan):
        raise OutputError(
            f"{out}: holds an approved or pushed run ({evidence[0]}), kept as evidence; write "
            "the new run to another folder")
    if not overwrite:
        raise OutputError(
            f"{out}: already holds a run ({held[0]}); choose a new --out folder, or replace it "
            "with --overwrite")


def _digest_in(folder: Path) -> str | None:
    """The plan digest a run folder's meta.json names (None: none readable)."""
    try:
        value = json.loads((folder / "meta.json").read_text(encoding="utf-8")).get("plan_digest")
    except (OSError, ValueError, AttributeError):
        return None
    return str(value) if value else None


def write_outputs(reconciliation: Reconciliation, the_plan: Plan, out: Path, *,
                  overwrite: bool = False, waves: Waves | None = None) -> dict[str, Path]:
    """identities.csv, diffs.csv, invalid.csv, plan.json and meta.json in the run folder (see
    ``check_run_folder``: a folder holding a run is replaced only with ``overwrite``); with
    ``waves``, their record too (``write_waves``)."""
    out = Path(out)
    check_run_folder(out, overwrite=overwrite, plan_digest=the_plan.digest)
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
    if waves is not None:
        files.update(write_waves(out, waves))
    return files


@dataclass(frozen=True)
class _Invalid:
    invalid: pd.DataFrame


@dataclass(frozen=True)
class _Groups:
    groups: pd.DataFrame
    memberships: pd.DataFrame


@dataclass(frozen=True)
class RunFolder:
    """A run folder as ``recon reconcile --out DIR`` wrote it, shaped like a Reconciliation."""

    identities: pd.DataFrame
    diffs: pd.DataFrame
    meta: RunMeta
    quality: _Invalid
    groups: _Groups | None = None  # groups.csv and memberships.csv, when the run has groups


def read_run(run_dir: str | Path) -> tuple[RunFolder, Plan]:
    """identities.csv, diffs.csv, invalid.csv, meta.json and plan.json of one run folder."""
    folder = Path(run_dir)

    def need(name: str) -> Path:
        file = folder / name
        if not file.is_file():
            raise InputError(f"the run folder has no {name} (run recon reconcile --out first)",
                             file=str(folder))
        return file

    plan = read_plan(need("plan.json"))
    identities = pd.read_csv(need("identities.csv"), dtype="string", keep_default_na=False,
                             na_values=[""])
    diffs = pd.read_csv(need("diffs.csv"), dtype="string", keep_default_na=False, na_values=[""])
    invalid_file = folder / "invalid.csv"
    invalid = (pd.read_csv(invalid_file, dtype="string", index_col=0, keep_default_na=False,
                           na_values=[""])
               if invalid_file.is_file() else pd.DataFrame(columns=["rule", "column", "reason"]))
    try:
        data = json.loads(need("meta.json").read_text(encoding="utf-8"))
        meta = RunMeta(
            as_of=date.fromisoformat(str(data["as_of"])), hr_file=str(data["hr_file"]),
            hr_sha256=str(data["hr_sha256"]), snapshot_source=str(data["snapshot_source"]),
            snapshot_digest=str(data["snapshot_digest"]),
            config_digest=str(data["config_digest"]), generated_at=str(data["generated_at"]))
    except (KeyError, ValueError) as error:
        raise InputError(f"meta.json is not a recon run's ({error})", file=str(folder)) from error
    if data.get("plan_digest") not in (None, plan.digest):
        raise InputError("plan.json is not the plan of this run (meta.json names another digest)",
                         file=str(folder))
    groups = None
    if (folder / "groups.csv").is_file() and (folder / "memberships.csv").is_file():
        groups = _Groups(*(pd.read_csv(folder / name, dtype="string", keep_default_na=False,
                                       na_values=[""])
                           for name in ("groups.csv", "memberships.csv")))
    return RunFolder(identities, diffs, meta, _Invalid(invalid), groups), plan


def read_identities(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """identities.csv (and groups.csv, if any) of a run folder: the names a workbook shows."""
    file = Path(folder) / "identities.csv"
    if not file.is_file():
        raise InputError("no identities.csv beside the plan: a reviewed workbook is checked "
                         "against its run folder (the plan's people and names)", file=str(folder))
    identities = pd.read_csv(file, dtype="string", keep_default_na=False, na_values=[""])
    groups_file = Path(folder) / "groups.csv"
    groups = (pd.read_csv(groups_file, dtype="string", keep_default_na=False, na_values=[""])
              if groups_file.is_file() else None)
    return identities, groups


def push_results_from_journal(journal: str | Path, plan: Plan) -> pd.DataFrame:
    """The journal's account of each of the plan's pushed ops: its latest state (status,
    attempts, http_status, error) and its history — ``pushed_at`` (first attempt sent),
    ``finished_at`` (last answer), ``attempt_log`` (every attempt's HTTP status and outcome,
    so a first 412 stays visible), ``account_id`` (the account or group the op wrote; the new
    id for a create)."""
    file = Path(journal)
    if not file.is_file():
        raise InputError("no such push journal", file=str(file))
    module = importlib.import_module("recon.io.journal")  # SQLite: only when asked for
    with module.Journal(file) as opened:
        frame: pd.DataFrame = opened.ops_frame()
        attempts: pd.DataFrame = opened.attempts_frame()
    frame = frame[frame["op_id"].isin(list(plan.ops["op_id"]))].reset_index(drop=True)
    attempts = attempts[attempts["op_id"].isin(list(frame["op_id"]))]
    attempts = attempts.sort_values(["op_id", "attempt"], kind="stable")
    http = attempts["http_status"].astype("Int64").astype("string").fillna("no answer")
    step = attempts["attempt"].astype(str) + ": " + http + " " + attempts["outcome"].astype(str)
    by_op = attempts.groupby("op_id", sort=False)
    history = pd.DataFrame({
        "pushed_at": by_op["started_at"].min(), "finished_at": by_op["ended_at"].max(),
        "attempt_log": step.groupby(attempts["op_id"], sort=False).agg(" → ".join),
        "resource_id": by_op["resource_id"].agg(_last_given)})
    frame = frame.join(history, on="op_id")
    frame["account_id"] = frame["resource_id"].fillna(frame["target_id"])
    return frame.drop(columns=["resource_id"])


def _last_given(values: pd.Series) -> str | None:
    given = [str(v) for v in values.tolist() if isinstance(v, str) and v]
    return given[-1] if given else None


def journal_facts(journal: str | Path) -> dict[str, str]:
    """What the evidence says about a push journal: its file, sha256, who owns it (the OS
    account that pushed), the target, and when its runs started and ended."""
    import hashlib
    import pwd
    import sqlite3
    from contextlib import closing

    file = Path(journal)
    if not file.is_file():
        raise InputError("no such push journal", file=str(file))
    with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as db:
        runs = pd.read_sql_query("SELECT * FROM runs ORDER BY run_id", db)
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    try:
        owner = pwd.getpwuid(file.stat().st_uid).pw_name
    except KeyError:
        owner = str(file.stat().st_uid)
    targets = ", ".join(dict.fromkeys(str(t) for t in runs["target"].dropna()))
    if "pushed_by" in runs and runs["pushed_by"].notna().any():  # recorded by the push itself
        owner = ", ".join(dict.fromkeys(str(b) for b in runs["pushed_by"].dropna()))
    return {"file": file.name, "sha256": digest, "owner": owner,
            "runs": str(len(runs)), "target": targets,
            "started_at": str(runs["started_at"].min()) if len(runs) else "",
            "ended_at": str(runs["ended_at"].dropna().max()) if runs["ended_at"].notna().any()
            else ""}


# ---- waves: which wave each op of a run belongs to (recon.core.waves) --------------------------

WAVES_JSON, WAVES_CSV, WAVE_DEPENDENCIES_CSV = "waves.json", "waves.csv", "wave-dependencies.csv"


def write_waves(out: str | Path, waves: Waves) -> dict[str, Path]:
    """waves.json (the waves, people per wave, the digests), waves.csv (every op of the whole
    plan and its wave, those of later waves too) and wave-dependencies.csv in the run folder."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    files = {"waves": folder / WAVES_JSON, "wave ops": folder / WAVES_CSV,
             "wave dependencies": folder / WAVE_DEPENDENCIES_CSV}
    files["waves"].write_text(json.dumps(waves.to_json(), indent=1), encoding="utf-8")
    write_csv(waves.ops[list(WAVE_OP_COLUMNS)], files["wave ops"], index=False)
    write_csv(waves.dependencies[list(DEPENDENCY_COLUMNS)], files["wave dependencies"],
              index=False)
    return files


def read_waves(folder: str | Path, plan: Plan | None = None) -> Waves:
    """The waves a run folder records; refused when they are for another plan than ``plan``
    (the folder's plan.json, read when not given)."""
    where = Path(folder)
    file = where / WAVES_JSON
    if not file.is_file():
        raise InputError("the run has no waves (waves.json): reconcile with waves: in the "
                         "config, or with --wave", file=str(where))
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        if data.get("format") != WAVES_FORMAT:
            raise ValueError(f"format {data.get('format')!r}")
        ops = pd.read_csv(where / WAVES_CSV, dtype="string", keep_default_na=False,
                          na_values=[""])
        dependencies = pd.read_csv(where / WAVE_DEPENDENCIES_CSV, dtype="string",
                                   keep_default_na=False, na_values=[""])
        waves = Waves.from_json(data, ops, dependencies)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(f"not a recon waves record ({error})", file=str(file)) from error
    the_plan = plan if plan is not None else read_plan(where / "plan.json")
    if waves.plan_digest != the_plan.digest:
        raise InputError(f"waves.json is for plan {waves.plan_digest[:12]}, not for this "
                         f"plan.json {the_plan.digest[:12]}", file=str(where))
    return waves


def journal_states(journals: list[Path]) -> pd.DataFrame:
    """op_id, status of every op the journals record (the latest update when several do; an
    op that succeeded in one of them stays succeeded). Read-only."""
    frames = [_journal_tables(file)[0] for file in journals]
    if not frames:
        return pd.DataFrame({"op_id": pd.Series(dtype="string"),
                             "status": pd.Series(dtype="string")})
    every = pd.concat(frames, ignore_index=True).sort_values("updated_at", kind="stable")
    latest = every.drop_duplicates("op_id", keep="last").copy()
    done = every.loc[every["status"].isin(["succeeded", "already_applied"]), "op_id"]
    latest.loc[latest["op_id"].isin(done) & ~latest["status"].isin(
        ["succeeded", "already_applied"]), "status"] = "succeeded"
    return pd.DataFrame(latest[["op_id", "status"]].astype("string")).reset_index(drop=True)


def _journal_tables(journal: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """A push journal's ops (op_id, status, target_id, updated_at) and the plan digests its
    runs pushed, read through a read-only connection (its sha256 stays what it was)."""
    import sqlite3
    from contextlib import closing

    file = Path(journal)
    if not file.is_file():
        raise InputError("no such push journal", file=str(file))
    try:
        with closing(sqlite3.connect(f"file:{file}?mode=ro", uri=True)) as db:
            ops = pd.read_sql_query("SELECT op_id, status, target_id, updated_at FROM ops", db)
            digests = [str(row[0]) for row in db.execute(
                "SELECT DISTINCT plan_digest FROM runs ORDER BY run_id")]
    except (sqlite3.Error, pd.errors.DatabaseError) as error:
        raise InputError(f"not a recon push journal ({error})", file=str(file)) from error
    return ops.astype("string"), digests


def verification_states(folder: str | Path) -> pd.DataFrame:
    """op_id, converged from the run folder's verification*.csv (the newest file wins)."""
    files = sorted(Path(folder).glob("verification*.csv"), key=lambda f: f.stat().st_mtime)
    frames = [pd.read_csv(file, usecols=["op_id", "converged"], dtype={"op_id": "string"})
              for file in files]
    if not frames:
        return pd.DataFrame({"op_id": pd.Series(dtype="string"),
                             "converged": pd.Series(dtype="bool")})
    every = pd.concat(frames, ignore_index=True).drop_duplicates("op_id", keep="last")
    converged = every["converged"].astype("string").str.lower().isin(["true", "1"])
    return pd.DataFrame({"op_id": every["op_id"], "converged": converged}).reset_index(
        drop=True)


# ---- undo: the run folder of an undo plan (recon.core.undo, recon.workflows.undo) ------------

UNDO_CSV = "undo.csv"


def journal_effect(journal: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """What a push journal says of each op (op_id, status, target_id: the id a create made),
    and the plan digests its runs pushed. Read-only: the journal's sha256 stays what it was."""
    ops, digests = _journal_tables(journal)
    return ops[["op_id", "status", "target_id"]], digests


def write_undo_run(out: str | Path, plan: Plan, *, identities: pd.DataFrame,
                   diffs: pd.DataFrame, groups: tuple[pd.DataFrame, pd.DataFrame] | None,
                   meta: RunMeta,
                   record: pd.DataFrame, undoes: dict[str, str], overwrite: bool = False
                   ) -> tuple[RunFolder, dict[str, Path]]:
    """An undo plan's run folder: plan.json; identities.csv, diffs.csv and groups.csv (the
    names its review shows; memberships.csv as given, usually none); undo.csv (what became of
    each op of the undone run); meta.json, whose ``undoes`` names the undone run, its plan
    digest and the journal's sha256. The same rules as any run folder (``check_run_folder``).
    Returns the folder as ``read_run`` reads it, for its review workbook."""
    folder = Path(out)
    check_run_folder(folder, overwrite=overwrite, plan_digest=plan.digest)
    folder.mkdir(parents=True, exist_ok=True)
    invalid = pd.DataFrame(columns=["rule", "column", "reason"], dtype="string")
    invalid.index.name = "hr_row"
    files = {name: folder / f"{name}.csv" for name in ("identities", "diffs", "invalid")}
    write_csv(identities, files["identities"], index=False)
    write_csv(diffs, files["diffs"], index=False)
    write_csv(invalid, files["invalid"], index=True)
    held = None
    if groups is not None:
        held = _Groups(*groups)
        files["groups"], files["memberships"] = folder / "groups.csv", folder / "memberships.csv"
        write_csv(held.groups, files["groups"], index=False)
        write_csv(held.memberships, files["memberships"], index=False)
    files["plan"], files["undo"], files["meta"] = (folder / "plan.json", folder / UNDO_CSV,
                                                   folder / "meta.json")
    write_plan(plan, files["plan"])
    write_csv(record, files["undo"], index=False)
    counts = identities["category"].value_counts()
    files["meta"].write_text(json.dumps({
        **meta.to_json(), "plan_digest": plan.digest, "ops": len(plan.ops),
        "counts": {str(k): int(v) for k, v in counts.items()}, "undoes": undoes}, indent=1),
        encoding="utf-8")
    return RunFolder(identities, diffs, meta, _Invalid(invalid), held), files
