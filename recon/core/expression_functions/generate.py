"""Generated values: Guid, RandomString and SelectUniqueValue."""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.core.expression_functions.kinds import TEXT, Value, null_text
from recon.core.expression_functions.values import (
    Arg,
    ArgInfo,
    ArgumentError,
    Env,
    broadcast,
    if_else,
    to_text,
)

# Windows password-complexity special characters, the set Entra's RandomString draws from.
SPECIAL_CHARACTERS = "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/"


def guid(env: Env, args: list[Arg], prepared: Any) -> Value:
    """Guid(): a new random GUID per row (inherently per row: a Python loop)."""
    return pa.array([str(uuid.uuid4()) for _ in range(env.n)], TEXT)


@dataclass(frozen=True)
class RandomPlan:
    length: int
    minimums: tuple[int, int, int, int]  # numbers, special, capital, lower
    pools: tuple[str, str, str, str]


def prepare_random_string(infos: list[ArgInfo]) -> RandomPlan:
    numbers: list[int] = []
    for position, what in enumerate(
        ("Length", "MinimumNumbers", "MinimumSpecialCharacters", "MinimumCapital",
         "MinimumLowerCase")
    ):
        info = infos[position]
        try:
            number = int(str(info.value)) if info.constant else None
        except ValueError:
            number = None
        if number is None or number < 0:
            raise ArgumentError(f"{what} must be a whole number constant", position)
        numbers.append(number)
    avoid = ""
    if len(infos) > 5 and not infos[5].omitted:
        if not infos[5].constant:
            raise ArgumentError("CharactersToAvoid must be a constant string", 5)
        avoid = str(infos[5].value)
    length, *minimums = numbers
    if length > 256:
        raise ArgumentError("Length may be at most 256", 0)
    if sum(minimums) > length:
        raise ArgumentError("the minimums add up to more than Length", 0)
    pools = tuple(
        "".join(c for c in pool if c not in avoid)
        for pool in (string.digits, SPECIAL_CHARACTERS, string.ascii_uppercase,
                     string.ascii_lowercase)
    )
    for minimum, pool, position in zip(minimums, pools, range(1, 5), strict=True):
        if minimum and not pool:
            raise ArgumentError("CharactersToAvoid removes every character of a required kind",
                                position)
    if length and not "".join(pools):
        raise ArgumentError("CharactersToAvoid removes every character", 5)
    return RandomPlan(length, (minimums[0], minimums[1], minimums[2], minimums[3]),
                      (pools[0], pools[1], pools[2], pools[3]))


def _random_one(plan: RandomPlan, rng: secrets.SystemRandom) -> str:
    chars = [rng.choice(pool) for minimum, pool in zip(plan.minimums, plan.pools, strict=True)
             for _ in range(minimum)]
    everything = "".join(plan.pools)
    chars += [rng.choice(everything) for _ in range(plan.length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def random_string(env: Env, args: list[Arg], plan: RandomPlan) -> Value:
    """RandomString(Length, MinimumNumbers, MinimumSpecialCharacters, MinimumCapital,
    MinimumLowerCase, CharactersToAvoid): a new random string per row (a Python loop)."""
    rng = secrets.SystemRandom()
    return pa.array([_random_one(plan, rng) for _ in range(env.n)], TEXT)


def _taken(env: Env) -> frozenset[str]:
    if env.attribute is not None:
        values = env.taken.get(env.attribute, frozenset())
    elif len(env.taken) == 1:
        (values,) = env.taken.values()
    elif not env.taken:
        values = frozenset()
    else:
        raise ArgumentError(
            "SelectUniqueValue: EvalContext.attribute must say which of the taken sets "
            f"({', '.join(sorted(env.taken))}) applies"
        )
    return frozenset(v.lower() for v in values if v)


def select_unique_value(env: Env, args: list[Arg], prepared: Any) -> Value:
    """SelectUniqueValue(rule1, rule2, ...): per row, the first candidate that is neither taken
    in the target (EvalContext.taken[attribute], compared case-insensitively as AD and SCIM
    userName do) nor given to an earlier row of the same frame. No free candidate gives a
    missing value (Entra would escrow the entry).
    """
    taken = pa.array(sorted(_taken(env)), TEXT)
    candidates = [broadcast(to_text(a), env.n) for a in args]
    free = []
    for candidate in candidates:
        lowered = pc.utf8_lower(candidate)
        usable = pc.and_(pc.invert(pc.is_in(lowered, value_set=taken)),
                         pc.not_equal(candidate, pa.scalar("", TEXT)))
        free.append(pc.fill_null(usable, False))
    chosen: Value = null_text()
    for candidate, usable in zip(reversed(candidates), reversed(free), strict=True):
        chosen = if_else(usable, candidate, chosen)
    chosen = broadcast(chosen, env.n)
    lowered = pc.utf8_lower(chosen)
    counts = pc.value_counts(lowered.drop_null())
    if len(counts) == 0 or pc.max(counts.field("counts")).as_py() <= 1:
        return chosen
    # Two rows would get the same value: walk the rows in order, as the provisioning service
    # would create them one after another. This loop is inherently sequential.
    columns = [c.to_pylist() for c in candidates]
    allowed = [f.to_pylist() for f in free]
    used: set[str] = set()
    out: list[str | None] = []
    for row in range(env.n):
        pick = None
        for values, ok in zip(columns, allowed, strict=True):
            if ok[row] and values[row].lower() not in used:
                pick = values[row]
                used.add(pick.lower())
                break
        out.append(pick)
    return pa.array(out, TEXT)
