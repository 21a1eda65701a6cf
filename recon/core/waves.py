"""Waves: a migration cut into parts, each planned, approved, pushed and checked on its own.

A wave is a named predicate over HR columns and the account's attributes (config ``waves:``,
or ``--wave``). Every row of identities — each HR row and each unmatched account — belongs to
the first wave whose predicate holds, or to none (``OUTSIDE``). Every op belongs to the wave of
the people it is about:

- a user op: its HR row's wave (an op on an unmatched account: the account's);
- a group membership op: its members' wave. An op that mixes members of several waves is cut
  into one op per wave (the same payload shape; the ids are the content's, as always), so a wave
  never pulls in, and never drops, another wave's member;
- a group create: the first wave (in precedence order) among those whose members it adds.

What a wave needs from outside itself is reported, never dropped or pulled in
(``Waves.dependencies``, one row per finding):

- ``manager``: an op that writes a person's manager (every create, every update of the manager)
  while the manager is in another wave, or in none;
- ``group``: a group that several waves change (each wave is told the others);
- ``group_create``: a wave adds members to a group that another wave creates (push that one
  first; until then the adds wait, as an op whose create did not run always does).

Op ids and the plan digest keep their meaning: a wave's plan is the ops of that wave with the
digest of exactly those ops and the snapshot (``plan_for``); an approval for a wave names only
its ops. Everything here is pure; ``recon.io.run`` writes and reads the record of a run's
waves (waves.json, waves.csv, wave-dependencies.csv).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from recon.core.config import Wave
from recon.core.expressions import (
    EvalContext,
    check_columns,
    compile_expression,
    evaluate_predicate,
)
from recon.core.groupplan import reference
from recon.core.plan import ACTION_ORDER, RISK, Plan, ops_frame, plan_digest
from recon.core.scim import PATCH_OP
from recon.errors import PlanError

#: The wave of people and ops that no wave's predicate selects (a name no wave can have).
OUTSIDE = "(no wave)"
#: Actions in the order tables show them: users, then groups.
ACTIONS = (*ACTION_ORDER, *(a for a in RISK if a not in ACTION_ORDER))
OP_COLUMNS = ["op_id", "wave", "action", "category", "hr_key", "target_id"]
DEPENDENCY_COLUMNS = ["wave", "kind", "op_id", "subject", "other_wave", "detail"]
WAVES_FORMAT = "recon.waves/1"
_EXPRESSION_MARKS = ("[", "(", "=", '"')


def is_expression(text: str) -> bool:
    """``--wave`` gives a name, or a predicate written out (it holds ``[``, ``(``, ``=`` or a
    quote, which a wave name never does)."""
    return any(mark in text for mark in _EXPRESSION_MARKS)


def rules_of(waves: Sequence[Wave] | Mapping[str, str]) -> tuple[Wave, ...]:
    """Waves from the config's models, or from ``{name: predicate}`` (a notebook's)."""
    if isinstance(waves, Mapping):
        return tuple(Wave(name=name, when=when) for name, when in waves.items())
    return tuple(waves)


# ---- people ----------------------------------------------------------------------------------


def wave_frame(identities: pd.DataFrame, hr_frame: pd.DataFrame, current: pd.DataFrame,
               rules: Sequence[Wave]) -> pd.DataFrame:
    """One row per identities row with the columns the predicates read: HR columns of its HR
    row, then the account's attributes (SCIM paths, as ``target.exclude`` reads them) of its
    account. A column neither side has is an ExpressionError naming the closest one."""
    hr_columns = [str(c) for c in hr_frame.columns]
    account_columns = [str(c) for c in current.columns if c not in ("target_id", "etag")]
    known = [*hr_columns, *(c for c in account_columns if c not in hr_columns)]
    wanted: list[str] = []
    for rule in rules:
        check_columns(rule.when, known)
        wanted += [c for c in sorted(compile_expression(rule.when).columns) if c not in wanted]
    hr_at = hr_frame.index.get_indexer(pd.Index(identities["hr_row"].fillna(-1).astype("int64")))
    account_at = pd.Index(current["target_id"]).get_indexer(identities["target_id"])
    columns: dict[str, Any] = {}
    for name in wanted:
        source, at = (hr_frame, hr_at) if name in hr_columns else (current, account_at)
        values = source[name].astype("string").array
        columns[name] = pd.Series(values.take(at, allow_fill=True), index=identities.index)
    return pd.DataFrame(columns, index=identities.index)


def people_waves(rules: Sequence[Wave], frame: pd.DataFrame,
                 context: EvalContext | None = None) -> pd.Series:
    """The wave of each row of ``frame``: the first rule that holds, else ``OUTSIDE``."""
    if not rules:
        return pd.Series(OUTSIDE, index=frame.index, dtype="string")
    flags = [evaluate_predicate(rule.when, frame, context).to_numpy(dtype=bool)
             for rule in rules]
    chosen = np.select(flags, [rule.name for rule in rules], default=OUTSIDE)
    return pd.Series(chosen, index=frame.index, dtype="string")


# ---- ops -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Lookup:
    """Who an op is about: waves by HR row; wave, HR key and row by account id or by the bulkId
    of the create that makes the account (a joiner added to a group in the same push)."""

    by_row: pd.Series
    by_member: pd.DataFrame  # index: account id or bulkId reference; wave, hr_key, hr_row

    def members(self, ids: list[str]) -> pd.DataFrame:
        """wave, hr_key, hr_row of each member id, in order (``OUTSIDE`` when unknown)."""
        found = self.by_member.reindex(pd.Index(ids, dtype="object"))
        found["wave"] = found["wave"].fillna(OUTSIDE).astype(str)
        return found.reset_index(drop=True)


def _members(action: str, payload: dict[str, Any]) -> list[str]:
    """Member ids a group_add adds or a group_remove removes, in payload order."""
    ids: list[str] = []
    for operation in payload.get("Operations") or []:
        if action == "group_add":
            ids += [str(item["value"]) for item in operation.get("value") or []]
        else:
            path = str(operation.get("path", ""))
            ids.append(path.split('"')[1] if '"' in path else path)
    return ids


def member_op_row(action: str, category: str, group: str, members: list[str],
                  etag: str, hr_key: Any = None, hr_row: Any = None) -> dict[str, Any]:
    """A group_add or group_remove of ``members`` on ``group`` (an id or a bulkId reference),
    shaped as recon.core.groupplan shapes it; ``hr_key``/``hr_row`` for a single member."""
    if action == "group_add":
        operations = [{"op": "add", "path": "members",
                       "value": [{"value": member} for member in members]}]
        before: dict[str, Any] = {"members": {"absent": members}}
    else:
        operations = [{"op": "remove", "path": f'members[value eq "{member}"]'}
                      for member in members]
        before = {"members": {"present": members}}
    single = len(members) == 1
    key = hr_key if single and hr_key is not None and not pd.isna(hr_key) else None
    row = hr_row if single and hr_row is not None and not pd.isna(hr_row) else None
    return {"action": action, "method": "PATCH", "path": f"/Groups/{group}", "target_id": group,
            "hr_key": None if key is None else str(key), "hr_row": row, "category": category,
            "payload": {"schemas": [PATCH_OP], "Operations": operations}, "before": before,
            "etag": etag, "risk": RISK[action], "match": None}


def _cut_group_ops(ops: pd.DataFrame, lookup: _Lookup, order: list[str]
                   ) -> tuple[pd.DataFrame, list[str]]:
    """The ops with every membership op that mixes waves cut into one op per wave; and the
    wave of each op of the result (membership ops only; "" for the others). The members of
    all ops are looked up at once; only the ops that mix waves are built again."""
    positions = np.flatnonzero(ops["action"].isin(["group_add", "group_remove"]).to_numpy())
    lists = [_members(str(action), json.loads(str(payload))) for action, payload in zip(
        ops["action"].to_numpy()[positions], ops["payload"].to_numpy()[positions], strict=True)]
    sizes = np.array([len(members) for members in lists], dtype="int64")
    info = lookup.members([member for members in lists for member in members])
    info["owner"] = np.repeat(positions, sizes)
    rank = {name: n for n, name in enumerate(order)}
    info["rank"] = info["wave"].map(rank)
    per_op = info.groupby("owner", sort=False)["rank"].agg(["min", "nunique"])
    wave_at = dict.fromkeys(positions.tolist(), OUTSIDE)
    wave_at.update(zip(per_op.index.astype(int).tolist(),
                       [order[int(v)] for v in per_op["min"].tolist()], strict=True))
    mixed = sorted(per_op.index[per_op["nunique"] > 1].astype(int).tolist())
    own = pd.Series([wave_at.get(at, "") for at in range(len(ops))], index=ops.index)
    if not mixed:
        return ops.reset_index(drop=True), own.tolist()
    starts = dict(zip(positions.tolist(), (np.cumsum(sizes) - sizes).tolist(), strict=True))
    member_waves, keys = info["wave"].tolist(), info["hr_key"].tolist()
    hr_rows = info["hr_row"].tolist()
    slot = {at: n for n, at in enumerate(positions.tolist())}
    columns = {name: ops[name].to_numpy() for name in ("action", "category", "target_id",
                                                        "etag")}
    rows: list[dict[str, Any]] = []
    new_waves: list[str] = []
    places: list[float] = []
    for position in mixed:
        members, first = lists[slot[position]], starts[position]
        parts: dict[str, list[int]] = {}
        for offset in range(len(members)):
            parts.setdefault(member_waves[first + offset], []).append(offset)
        etag = columns["etag"][position]
        for number, wave in enumerate(sorted(parts, key=rank.__getitem__)):
            chosen = parts[wave]
            rows.append(member_op_row(
                str(columns["action"][position]), str(columns["category"][position]),
                str(columns["target_id"][position]), [members[i] for i in chosen],
                "" if pd.isna(etag) else str(etag), keys[first + chosen[0]],
                hr_rows[first + chosen[0]]))
            new_waves.append(wave)
            places.append(position + number / (len(parts) + 1))
    built = ops_frame(rows).assign(_place=places, _wave=new_waves)
    kept = ops.assign(_place=np.arange(len(ops), dtype="float64"), _wave=own.to_numpy())
    kept = kept.drop(index=ops.index[mixed])
    cut = pd.concat([kept, built], ignore_index=True).sort_values("_place", kind="stable")
    waves = cut["_wave"].astype(str).tolist()
    return cut.drop(columns=["_place", "_wave"]).reset_index(drop=True), waves


def _lookup(plan: Plan, identities: pd.DataFrame, people: pd.Series) -> _Lookup:
    hr_rows = identities["hr_row"]
    with_row = hr_rows.notna().to_numpy()
    by_row = pd.Series(people.to_numpy()[with_row], index=hr_rows[with_row].astype("int64"))
    with_account = identities["target_id"].notna().to_numpy()
    accounts = pd.DataFrame({
        "wave": people.to_numpy()[with_account],
        "hr_key": identities["hr_key"].to_numpy()[with_account],
        "hr_row": hr_rows.to_numpy()[with_account]},
        index=identities["target_id"][with_account].astype(str).to_numpy())
    creates = plan.ops[plan.ops["method"] == "POST"]
    made = pd.DataFrame({
        "wave": creates["hr_row"].astype("Int64").map(by_row).fillna(OUTSIDE).to_numpy(),
        "hr_key": creates["hr_key"].to_numpy(), "hr_row": creates["hr_row"].to_numpy()},
        index=("bulkId:" + creates["op_id"].astype(str).str.slice(0, 32)).to_numpy())
    by_member = pd.concat([accounts, made])
    return _Lookup(by_row, by_member[~by_member.index.duplicated()])


# ---- the result ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Waves:
    """The waves of a plan: each op's wave, people per wave, dependencies between waves.

    ``plan`` is the plan whose ops ``ops`` lists (membership ops cut per wave) when made in
    memory, and ``person_waves`` the wave of each identities row; a record read back from a
    run folder has neither (the folder's plan.json is the plan, or ``selected``'s part of
    it). ``plan_digest`` is the digest of the plan written beside this record,
    ``full_digest`` the digest of every op's plan (equal without ``selected``).
    """

    rules: tuple[Wave, ...]
    ops: pd.DataFrame  # OP_COLUMNS, one row per op of the full plan
    people: dict[str, int]  # identities rows per wave (OUTSIDE included)
    dependencies: pd.DataFrame  # DEPENDENCY_COLUMNS
    plan_digest: str
    full_digest: str
    selected: str | None = None
    plan: Plan | None = field(default=None, repr=False, compare=False)
    person_waves: pd.Series | None = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> list[str]:
        return [rule.name for rule in self.rules]

    def check(self, name: str) -> str:
        """The wave called ``name`` (PlanError with the closest name when there is none)."""
        if name in self.names:
            return name
        close = difflib.get_close_matches(name, self.names, n=1, cutoff=0.5)
        hint = (f" (did you mean {close[0]!r}?)" if close
                else f" (waves: {', '.join(self.names)})" if self.names else
                " (this run has no waves: add waves: to the config, or reconcile --wave)")
        raise PlanError(f"unknown wave {name!r}{hint}")

    def op_ids(self, name: str) -> list[str]:
        return self.ops.loc[self.ops["wave"] == self.check(name), "op_id"].astype(str).tolist()

    def plan_for(self, name: str, plan: Plan | None = None) -> Plan:
        """The wave's plan: its ops, in plan order, with their own digest."""
        whole = plan if plan is not None else self.plan
        if whole is None:
            raise PlanError("no plan in memory: read plan.json and pass it")
        ops = whole.ops[whole.ops["op_id"].isin(self.op_ids(name))].reset_index(drop=True)
        return Plan(ops, plan_digest(whole.snapshot_digest, ops["op_id"]),
                    whole.snapshot_digest, whole.as_of)

    def selecting(self, name: str) -> Waves:
        """This record for a folder that holds wave ``name``'s plan only."""
        part = self.plan_for(name)
        return Waves(self.rules, self.ops, self.people, self.dependencies, part.digest,
                     self.full_digest, name, part, self.person_waves)

    def summary(self) -> pd.DataFrame:
        """One row per wave (and one for ``OUTSIDE``): people, ops, ops per action."""
        order = [*self.names, OUTSIDE]
        counts = pd.crosstab(self.ops["wave"], self.ops["action"]).reindex(order, fill_value=0)
        actions = [a for a in ACTIONS if a in counts.columns and counts[a].sum()]
        table = counts.reindex(columns=actions, fill_value=0).astype("int64")
        table.insert(0, "ops", table.sum(axis=1).astype("int64"))
        table.insert(0, "people", [int(self.people.get(name, 0)) for name in order])
        table.index.name = "wave"
        return table.reset_index()

    def later(self, name: str) -> dict[str, int]:
        """Ops per other wave (``OUTSIDE`` included) when wave ``name`` is planned: what a
        wave's plan leaves to later waves."""
        others = self.ops[self.ops["wave"] != self.check(name)]
        counts = others["wave"].value_counts()
        return {wave: int(counts[wave]) for wave in [*self.names, OUTSIDE] if counts.get(wave)}

    def dependencies_of(self, name: str) -> pd.DataFrame:
        return self.dependencies[self.dependencies["wave"] == self.check(name)].reset_index(
            drop=True)

    def to_json(self) -> dict[str, Any]:
        return {"format": WAVES_FORMAT, "plan_digest": self.plan_digest,
                "full_digest": self.full_digest, "selected": self.selected,
                "waves": [{"name": rule.name, "when": rule.when,
                           "people": int(self.people.get(rule.name, 0))} for rule in self.rules],
                "outside": {"people": int(self.people.get(OUTSIDE, 0))}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any], ops: pd.DataFrame,
                  dependencies: pd.DataFrame) -> Waves:
        rules = tuple(Wave(name=str(w["name"]), when=str(w["when"])) for w in data["waves"])
        people = {str(w["name"]): int(w.get("people", 0)) for w in data["waves"]}
        people[OUTSIDE] = int((data.get("outside") or {}).get("people", 0))
        selected = data.get("selected")
        return cls(rules, ops, people, dependencies, str(data["plan_digest"]),
                   str(data.get("full_digest") or data["plan_digest"]),
                   None if selected is None else str(selected))


def assign_waves(rules: Sequence[Wave], plan: Plan, identities: pd.DataFrame,
                 people: pd.Series, managers: Mapping[str, pd.Series] | None = None,
                 group_names: Mapping[str, str] | None = None) -> Waves:
    """Each op's wave, given each identities row's (``people``, from ``people_waves``).

    ``managers``: per reference attribute path (e.g. the enterprise manager), the referenced HR
    key of each HR row (the desired frame's column, index hr_row) — for the ``manager``
    dependencies. ``group_names``: group id → displayName, for the ``group`` ones.
    """
    order = [*(rule.name for rule in rules), OUTSIDE]
    lookup = _lookup(plan, identities, people)
    ops, member_waves = _cut_group_ops(plan.ops, lookup, order)
    wave = _user_op_waves(ops, lookup)
    wave = wave.mask(pd.Series(member_waves, index=ops.index, dtype="string") != "",
                     pd.Series(member_waves, index=ops.index, dtype="string"))
    wave = _group_create_waves(ops, wave, order)
    whole = Plan(ops, plan_digest(plan.snapshot_digest, ops["op_id"]), plan.snapshot_digest,
                 plan.as_of) if len(ops) != len(plan.ops) else Plan(
                     ops, plan.digest, plan.snapshot_digest, plan.as_of)
    table = pd.DataFrame({"op_id": ops["op_id"], "wave": wave.astype("string"),
                          "action": ops["action"], "category": ops["category"],
                          "hr_key": ops["hr_key"], "target_id": ops["target_id"]})
    counts = people.value_counts()
    dependencies = pd.concat([
        _manager_dependencies(ops, wave, lookup, identities, managers or {}),
        _group_dependencies(ops, wave, order, group_names or {})], ignore_index=True)
    rank = dependencies["wave"].map({name: n for n, name in enumerate(order)})
    dependencies = dependencies.assign(_rank=rank).sort_values(
        ["_rank", "kind", "subject"], kind="stable").drop(columns="_rank").reset_index(drop=True)
    return Waves(tuple(rules), table, {name: int(counts.get(name, 0)) for name in order},
                 dependencies, whole.digest, whole.digest, None, whole, people)


def _user_op_waves(ops: pd.DataFrame, lookup: _Lookup) -> pd.Series:
    """User ops: the wave of their HR row, else of their account (vectorised)."""
    by_row = ops["hr_row"].astype("Int64").map(lookup.by_row)
    by_account = ops["target_id"].map(lookup.by_member["wave"])
    return by_row.fillna(by_account).fillna(OUTSIDE).astype("string")


def _group_create_waves(ops: pd.DataFrame, wave: pd.Series, order: list[str]) -> pd.Series:
    """A group create goes with the first wave (in precedence order) that adds to it."""
    creates = (ops["action"] == "group_create").to_numpy()
    if not creates.any():
        return wave
    refs = "bulkId:" + ops["op_id"].astype(str).str.slice(0, 32)
    rank = wave.map({name: n for n, name in enumerate(order)})
    users = ops["target_id"].isin(refs[creates]).to_numpy()
    first = rank[users].groupby(ops["target_id"][users].to_numpy()).min()
    chosen = refs[creates].map(first).map(dict(enumerate(order))).fillna(OUTSIDE)
    wave = wave.copy()
    wave[creates] = chosen.to_numpy()
    return wave


def _manager_dependencies(ops: pd.DataFrame, wave: pd.Series, lookup: _Lookup,
                          identities: pd.DataFrame, managers: Mapping[str, pd.Series]
                          ) -> pd.DataFrame:
    frames = []
    keys = identities.dropna(subset=["hr_key", "hr_row"]).drop_duplicates("hr_key")
    row_of_key = pd.Series(keys["hr_row"].astype("int64").to_numpy(),
                           index=keys["hr_key"].astype(str).to_numpy())
    for path, manager_keys in managers.items():
        writes = (ops["action"] == "create") | ops["before"].str.contains(
            json.dumps(path), regex=False).fillna(False)
        chosen = writes & (wave != OUTSIDE) & ops["hr_row"].notna()
        if not chosen.any():
            continue
        hr_rows = ops.loc[chosen, "hr_row"].astype("int64")
        manager = hr_rows.map(manager_keys).astype("string")
        manager_row = manager.map(row_of_key)
        manager_wave = manager_row.map(lookup.by_row).fillna(OUTSIDE).astype("string")
        own = wave[chosen]
        differs = manager.notna() & manager_row.notna() & (manager_wave != own)
        if not differs.any():
            continue
        index = differs[differs].index
        other = manager_wave[index]
        frames.append(pd.DataFrame({
            "wave": own[index], "kind": "manager", "op_id": ops.loc[index, "op_id"],
            "subject": ops.loc[index, "hr_key"], "other_wave": other,
            "detail": "manager " + manager[index] + np.where(
                other == OUTSIDE, " is in no wave", " is in wave " + other)}))
    if not frames:
        return pd.DataFrame(columns=DEPENDENCY_COLUMNS, dtype="string")
    return pd.concat(frames, ignore_index=True)[DEPENDENCY_COLUMNS].astype("string")


def _group_dependencies(ops: pd.DataFrame, wave: pd.Series, order: list[str],
                        group_names: Mapping[str, str]) -> pd.DataFrame:
    """Groups several waves change; adds to a group another wave creates."""
    groups = ops["action"].str.startswith("group_")
    if not groups.any():
        return pd.DataFrame(columns=DEPENDENCY_COLUMNS, dtype="string")
    frame = pd.DataFrame({"op_id": ops.loc[groups, "op_id"], "action": ops.loc[groups, "action"],
                          "wave": wave[groups]})
    creates = ops["action"] == "group_create"
    names = dict(group_names)
    created_by: dict[str, tuple[str, str]] = {}
    for one, payload, maker in zip(ops.loc[creates, "op_id"], ops.loc[creates, "payload"],
                                   wave[creates], strict=True):
        ref = reference(str(one))
        names[ref] = str(json.loads(str(payload)).get("displayName", ref))
        created_by[ref] = (str(maker), str(one))
    frame["group"] = ops.loc[groups, "target_id"].astype(str).where(
        frame["action"] != "group_create",
        ops.loc[groups, "op_id"].astype(str).map(reference))
    rows: list[dict[str, Any]] = []
    for group, part in frame.groupby("group", sort=True):
        present = sorted(set(part["wave"].astype(str)) - {OUTSIDE}, key=order.index)
        name = names.get(str(group), str(group))
        maker = created_by.get(str(group))
        for one in present:
            others = [w for w in present if w != one]
            if others:
                rows.append({"wave": one, "kind": "group", "op_id": "", "subject": name,
                             "other_wave": "; ".join(others),
                             "detail": f"group {name} is also changed by "
                                       f"{'wave' if len(others) == 1 else 'waves'} "
                                       f"{', '.join(others)}"})
            if maker is not None and maker[0] != one:
                rows.append({"wave": one, "kind": "group_create", "op_id": maker[1],
                             "subject": name, "other_wave": maker[0],
                             "detail": f"group {name} is created by "
                                       + (f"wave {maker[0]}: push that wave first"
                                          if maker[0] != OUTSIDE else "an op in no wave")
                                       + "; until then this wave's adds to it wait"})
    return pd.DataFrame(rows, columns=DEPENDENCY_COLUMNS, dtype="string")


__all__ = ["DEPENDENCY_COLUMNS", "OP_COLUMNS", "OUTSIDE", "WAVES_FORMAT", "Waves",
           "assign_waves", "is_expression", "member_op_row", "people_waves", "rules_of",
           "wave_frame"]
