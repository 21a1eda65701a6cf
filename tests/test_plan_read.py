"""read_plan reads plan.json as write_plan lays it out column-wise; the general reader (one op
at a time) is the spec: the same Plan for every file, the same refusal for every edit."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from recon.core.plan import PLAN_FORMAT, Plan, plan_digest
from recon.core.plan_build import build_plan
from recon.errors import InputError
from recon.io.plan_files import _read_general, read_plan, write_plan
from recon.io.plan_lines import read_lines as _read_lines
from tests.tables import config
from tests.test_plan_columnar import DAY, assert_read_same, frames

OP_ID = re.compile(r'"op_id": "([0-9a-f]{64})"')


def written(tmp_path: Path, leavers: str = "disable", orphans: str = "delete") -> Path:
    identities, diffs, wanted, current = frames()
    if orphans == "disable":  # looks up each orphan's active flag: one row per account
        current = current.drop_duplicates("target_id", keep="last")
    cfg = config(policy={"leavers": leavers, "orphans": orphans, "max_deletes": 10})
    the_plan = build_plan(identities, diffs, wanted, current, cfg, "s" * 64, DAY)
    file = tmp_path / "plan.json"
    write_plan(the_plan, file)
    return file


def lines_of(file: Path) -> list[str]:
    return file.read_text(encoding="utf-8").split("\n")


def save(file: Path, lines: list[str]) -> None:
    file.write_text("\n".join(lines), encoding="utf-8")


def with_digest(lines: list[str]) -> list[str]:
    """The header's digest recomputed for the op ids the lines now hold."""
    ids = [OP_ID.search(line)[1] for line in lines[1:-2]]  # type: ignore[index]
    head = json.loads(lines[0] + "]}")
    digest = plan_digest(head["snapshot_digest"], ids)
    return [re.sub(r'"digest": "[^"]*"', f'"digest": "{digest}"', lines[0], count=1), *lines[1:]]


def refused(file: Path) -> str:
    """read_plan's refusal, checked to be the general reader's, word for word."""
    with pytest.raises(InputError) as fast:
        read_plan(file)
    with pytest.raises(InputError) as general:
        _read_general(file)
    assert str(fast.value) == str(general.value)
    return str(fast.value).removeprefix(f"{file}: ")


@pytest.mark.parametrize(("leavers", "orphans"), [
    ("disable", "report"), ("delete", "disable"), ("none", "delete"),
])
def test_written_plans_read_column_wise_as_the_general_reader_reads_them(
        leavers: str, orphans: str, tmp_path: Path) -> None:
    file = written(tmp_path, leavers, orphans)
    assert _read_lines(file.read_bytes()) is not None
    assert_read_same(file)


def test_an_empty_plan(tmp_path: Path) -> None:
    identities, diffs, wanted, current = frames()
    calm = identities[identities["category"] == "in_sync"]
    the_plan = build_plan(calm, diffs[:0], wanted, current, config(), "s" * 64, DAY)
    write_plan(the_plan, tmp_path / "plan.json")
    assert len(read_plan(tmp_path / "plan.json")) == 0
    assert_read_same(tmp_path / "plan.json")


def test_a_changed_body_is_refused(tmp_path: Path) -> None:
    file = written(tmp_path)
    lines = lines_of(file)
    line = next(n for n, one in enumerate(lines) if '"action": "update"' in one)
    lines[line] = lines[line].replace('"value":"New', '"value":"Newer', 1)
    save(file, lines)
    bad = OP_ID.search(lines[line])[1]  # type: ignore[index]
    assert refused(file) == f"op {bad[:12]} does not match its content (the file was edited)"


def test_a_changed_id_is_refused(tmp_path: Path) -> None:
    file = written(tmp_path)
    lines = lines_of(file)
    old = OP_ID.search(lines[2])[1]  # type: ignore[index]
    lines[2] = lines[2].replace(old, "0" * 64)
    save(file, lines)
    assert "plan digest does not match its ops" in refused(file)
    save(file, with_digest(lines))  # the digest made to match: the op itself is refused
    assert refused(file) == f"op {'0' * 12} does not match its content (the file was edited)"


@pytest.mark.parametrize("edit", ["missing", "added", "digest", "snapshot", "swapped"])
def test_ops_missing_added_and_changed_digests_are_refused(edit: str, tmp_path: Path) -> None:
    file = written(tmp_path)
    lines = lines_of(file)
    if edit == "missing":
        del lines[2]
    elif edit == "added":
        lines.insert(3, lines[2])
    elif edit == "digest":
        lines[0] = re.sub(r'"digest": "[0-9a-f]', '"digest": "x', lines[0], count=1)
    elif edit == "snapshot":
        lines[0] = lines[0].replace('"snapshot_digest": "s', '"snapshot_digest": "t', 1)
    else:  # two ops' ids swapped: the digest still matches
        first, second = (OP_ID.search(lines[n])[1] for n in (1, 2))  # type: ignore[index]
        lines[1], lines[2] = lines[1].replace(first, second), lines[2].replace(second, first)
    save(file, lines)
    message = refused(file)
    assert message.startswith("op " if edit == "swapped" else "plan digest does not match")


def hashed(lines: list[str], line: int) -> list[str]:
    """The line's op id recomputed over its body text as it stands (canonical or not)."""
    op = lines[line]
    text = {key: re.search(rf'"{key}": (.*?)(?:, "[a-z_]+": |}}$)', op)[1]  # type: ignore[index]
            for key in ("action", "method", "path", "target_id", "hr_key", "payload", "before")}
    body = "{" + ",".join(f'"{key}":{text[key]}' for key in sorted(text)) + "}"
    old = OP_ID.search(op)[1]  # type: ignore[index]
    lines[line] = op.replace(old, hashlib.sha256(body.encode()).hexdigest())
    return with_digest(lines)


def test_a_body_hashed_in_a_form_that_is_not_canonical_is_refused(tmp_path: Path) -> None:
    file = written(tmp_path)
    lines = lines_of(file)
    line = next(n for n, one in enumerate(lines) if '"action": "update"' in one)
    lines[line] = lines[line].replace('"Operations":[', '"Operations": [', 1)
    save(file, hashed(lines, line))
    assert "does not match its content" in refused(file)
    lines = lines_of(written(tmp_path))
    lines[line] = lines[line].replace('"action": "update"', '"action": "upd\\u0061te"', 1)
    save(file, hashed(lines, line))
    assert "does not match its content" in refused(file)


def test_unusual_but_valid_files_are_read_by_the_general_reader(tmp_path: Path) -> None:
    file = written(tmp_path)
    original = read_plan(file)
    lines = lines_of(file)
    line = next(n for n, one in enumerate(lines) if '"action": "update"' in one)
    # The same content written otherwise: spaces in a payload, an escape in a string, no final
    # line break, the whole file re-dumped.
    spaced = lines[line].replace('"Operations":[', '"Operations": [', 1)
    escaped = lines[line].replace('"method": "PATCH"', '"method": "P\\u0041TCH"')
    for edited in ([*lines[:line], spaced, *lines[line + 1:]],
                   [*lines[:line], escaped, *lines[line + 1:]], lines[:-1]):
        save(file, edited)
        assert _read_lines(file.read_bytes()) is None
        assert_read_same(file)
        assert read_plan(file).ops.equals(original.ops)
    file.write_text(json.dumps(json.loads(file.read_text())), encoding="utf-8")
    assert_read_same(file)
    assert read_plan(file).ops.equals(original.ops)


@pytest.mark.parametrize("text", [
    "", "{", "[]", '{"format": "other"}', '\ufeff{"format": "x"}',
])
def test_not_a_plan(text: str, tmp_path: Path) -> None:
    file = tmp_path / "plan.json"
    file.write_text(text, encoding="utf-8")
    assert refused(file).startswith("not a recon plan")


def test_not_utf8_and_not_there(tmp_path: Path) -> None:
    file = written(tmp_path)
    raw = file.read_bytes()
    file.write_bytes(raw.replace(b"@x", b"@\xffx", 1))
    assert refused(file) == "not a recon plan (invalid JSON)"
    with pytest.raises(InputError, match="cannot read plan"):
        read_plan(tmp_path / "missing.json")


def test_plan_format_constant_is_in_the_header(tmp_path: Path) -> None:
    file = written(tmp_path)
    assert json.loads(lines_of(file)[0] + "]}")["format"] == PLAN_FORMAT
    assert isinstance(read_plan(file), Plan)
