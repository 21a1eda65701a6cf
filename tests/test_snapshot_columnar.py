"""JSON-lines snapshots read columnar: the same frame, resources and errors as the dict path.

A JSON-lines file is read by pyarrow into ``Snapshot.users`` without resource dicts; its digest is
the sha256 of the file's bytes; ``resources`` are made from the file on first access. Whatever
the columnar path cannot read exactly (or refuses) goes the general way, so every answer is the
one the dict path gives.
"""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

from recon.core.normalize import current_frame
from recon.core.snapshot import Snapshot, resources_digest
from recon.errors import InputError
from recon.io import snapshots as snapshot_module
from recon.io.config_file import load_config
from recon.io.snapshots import read_snapshot, snapshot_document, write_snapshot
from recon.workflows.reconcile import reconcile, target_paths
from tests.conftest import SAMPLES

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

PATHS = [
    "userName", "externalId", "displayName", "title", "nickName", "active", "id",
    "name.givenName", "name.familyName", "name.formatted",
    'emails[type eq "work"].value', 'emails[type eq "home"].value',
    'emails[type eq "WORK"].value', 'emails[type eq "work"].primary', "emails",
    'phoneNumbers[type eq "mobile"].value', 'addresses[type eq "work"].locality',
    f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:department", f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:costCenter", "meta.created", "meta.lastModified", "meta.version",
    "meta.resourceType", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
]


def sample_users() -> list[dict[str, Any]]:
    data = json.loads((SAMPLES / "target_snapshot.json").read_text(encoding="utf-8"))
    return list(data["Resources"])


def user(number: int, **attributes: Any) -> dict[str, Any]:
    return {"id": f"u{number}", "userName": f"user{number}@example.com", **attributes}


# Shapes the columnar reader has to get right; each list is one file.
ODD_SHAPES: dict[str, list[dict[str, Any]]] = {
    "missing attributes": [
        user(1), user(2, name={"givenName": "Ann"}), user(3, emails=[]),
        user(4, emails=[{"value": "x@example.com"}], title=None),
    ],
    "case-variant keys": [
        user(1, Emails=[{"value": "a@example.com", "type": "work"}]),
        user(2, emails=[{"value": "b@example.com", "Type": "work"}]),
        user(3, NAME={"givenName": "Bo"}, name={"GivenName": "Bo"}),
        {"id": "u4", "UserName": "upper@example.com"},
    ],
    "emails of several types": [
        user(1, emails=[{"value": "h@example.com", "type": "home"},
                        {"value": "w1@example.com", "type": "work"},
                        {"value": "w2@example.com", "type": "work"}]),
        user(2, emails=[{"value": "W@example.com", "type": "WORK", "primary": True}]),
        user(3, emails=[{"value": "n@example.com", "type": None}, {"type": "work"}]),
        user(4, emails=[{"value": "ü@example.com", "type": "wörk"}]),
    ],
    "enterprise extension": [
        user(1, **{ENTERPRISE: {"employeeNumber": "1", "manager": {"value": "u2"}}}),
        user(2, **{ENTERPRISE: {"employeeNumber": "2", "manager": None,
                                "department": "Sales"}}),
        user(3, **{ENTERPRISE: None}),
        user(4, **{ENTERPRISE.upper(): {"employeeNumber": "4"}}),
        user(5),
    ],
    "numbers": [
        user(1, externalId=1001, title="A", **{ENTERPRISE: {"employeeNumber": 1.5}}),
        user(2, externalId=1002, title="B", **{ENTERPRISE: {"employeeNumber": 2}}),
        user(3, externalId=10**30, title=None),
    ],
    "timestamp-looking strings": [
        user(1, title="2024-01-01", displayName="2024-01-02 10:00:00",
             meta={"created": "2019-03-04T08:24:38Z", "version": "2024-05-06T07:08:09Z"}),
        user(2, title="2024-02-01", displayName="2024-02-02 11:00:00",
             meta={"created": "2020-03-04T08:24:38Z", "version": "2025-05-06T07:08:09Z"}),
        user(3, nickName="1999-12-31 23:59:59"),
    ],
    "active spelled many ways": [
        user(1, active=True), user(2, active=False), user(3), user(4, active=None),
    ],
    "active as strings": [
        user(1, active="False"), user(2, active=" no "), user(3, active="True"), user(4),
    ],
    "active as numbers": [user(1, active=0), user(2, active=1), user(3)],
    "meta shapes": [
        user(1, meta={"version": 'W/"1"'}), user(2, meta=None), user(3, meta={}),
        user(4, meta={"version": None, "resourceType": "User"}), user(5),
    ],
    "unicode and escapes": [
        user(1, displayName="Łukasz \"Łu\" Nowak", title="tab\there"),
        user(2, displayName="e\u0301", title="line\nbreak"),
        user(3, displayName="\U0001f600", title="nul\u0000byte"),
    ],
    "only ids": [{"id": "a"}, {"id": "b"}],
}


def write_lines(path: Path, users: list[dict[str, Any]], *, ascii_only: bool = False) -> Path:
    path.write_text("".join(json.dumps(one, ensure_ascii=ascii_only) + "\n" for one in users),
                    encoding="utf-8")
    return path


def dict_snapshot(path: Path) -> Snapshot:
    """The same file read the general way (the columnar path switched off)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot_module, "_columnar_users", lambda raw: None)
        return read_snapshot(path)


def assert_same_frame(columnar: pd.DataFrame, general: pd.DataFrame) -> None:
    assert list(columnar.columns) == list(general.columns)
    assert columnar.dtypes.to_dict() == general.dtypes.to_dict()
    pd.testing.assert_frame_equal(columnar, general, check_exact=True)


@pytest.fixture(params=["default sample", "first line only"])
def sample_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """pyarrow is told the types of the first lines; with one line, the rest are inferred."""
    if request.param == "first line only":
        monkeypatch.setattr(snapshot_module, "_SAMPLE_SIZE", 1)
    yield


def test_the_samples_read_columnar_give_the_same_frame(tmp_path: Path, sample_size: None) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    columnar = read_snapshot(path)
    assert columnar.users is not None and columnar.count == len(sample_users())
    general = dict_snapshot(path)
    assert general.users is None
    config = load_config(SAMPLES / "recon.yaml")
    for paths in (target_paths(config), PATHS):
        assert_same_frame(current_frame(read_snapshot(path), paths),
                          current_frame(general, paths))


@pytest.mark.parametrize("shape", sorted(ODD_SHAPES))
def test_odd_shapes_give_the_same_frame(tmp_path: Path, shape: str, sample_size: None) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", ODD_SHAPES[shape])
    columnar, general = read_snapshot(path), dict_snapshot(path)
    assert_same_frame(current_frame(columnar, PATHS), current_frame(general, PATHS))
    assert current_frame(columnar, []).equals(current_frame(general, []))
    parsed = [orjson.loads(json.dumps(one)) for one in ODD_SHAPES[shape]]  # 10**30: a float
    assert columnar.resources == general.resources == parsed
    assert columnar.digest == general.digest


def test_a_plain_frame_needs_no_resource_dicts(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    taken = read_snapshot(path)
    path.unlink()  # were the dicts made now, reading the file would fail
    frame = current_frame(taken, target_paths(load_config(SAMPLES / "recon.yaml")))
    assert len(frame) == taken.count == len(sample_users())


def test_reconcile_does_not_make_the_resource_dicts(tmp_path: Path) -> None:
    config = load_config(SAMPLES / "recon.yaml")
    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    taken = read_snapshot(path)
    path.unlink()
    result = reconcile(config, target=taken)
    expected = reconcile(config, target=Snapshot.of(sample_users()))
    pd.testing.assert_frame_equal(result.identities, expected.identities)
    pd.testing.assert_frame_equal(result.diffs, expected.diffs)
    assert result.meta.snapshot_digest == taken.digest != expected.meta.snapshot_digest


def test_the_digest_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    lines = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    assert read_snapshot(lines).digest == hashlib.sha256(lines.read_bytes()).hexdigest()
    document = SAMPLES / "target_snapshot.json"
    assert read_snapshot(document).digest == hashlib.sha256(document.read_bytes()).hexdigest()
    written = tmp_path / "written.json"
    write_snapshot(Snapshot.of(sample_users(), source="live"), written)
    again = read_snapshot(written)
    assert again.digest == hashlib.sha256(written.read_bytes()).hexdigest()
    assert again.source == "live" and again.resources == sample_users()


def test_live_snapshots_keep_the_canonical_digest() -> None:
    users = sample_users()
    live = Snapshot.of(users)
    assert live.digest == resources_digest(users)
    assert Snapshot.of(list(reversed(users))).digest == live.digest


def test_resources_are_made_once_and_equal_the_dict_path(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    taken = read_snapshot(path)
    first = taken.resources
    assert first == dict_snapshot(path).resources == sample_users()
    assert taken.resources is first
    assert snapshot_document(taken)["Resources"] == sample_users()


def test_a_file_changed_after_reading_is_refused(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    taken = read_snapshot(path)
    write_lines(path, sample_users()[1:])
    with pytest.raises(InputError, match="snapshot file changed since it was read"):
        _ = taken.resources
    path.unlink()
    with pytest.raises(InputError, match="cannot read snapshot"):
        _ = taken.resources


def test_a_column_read_per_resource_reads_the_file_again(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", ODD_SHAPES["numbers"])
    taken = read_snapshot(path)
    path.write_text("changed\n", encoding="utf-8")
    with pytest.raises(InputError, match="snapshot file changed since it was read"):
        current_frame(taken, ["externalId"])


def test_a_snapshot_is_immutable(tmp_path: Path) -> None:
    taken = read_snapshot(write_lines(tmp_path / "snapshot.jsonl", sample_users()))
    with pytest.raises(FrozenInstanceError):
        taken.digest = "x"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del taken.source
    assert "Snapshot(283 users" in repr(taken)
    again = pickle.loads(pickle.dumps(taken))
    assert again.digest == taken.digest and again.users.equals(taken.users)
    assert again.resources == copy.deepcopy(taken).resources == sample_users()


def jsonl(*users: Any) -> bytes:
    return b"".join(orjson.dumps(one) + b"\n" for one in users)


# Files the columnar path must refuse or read exactly as the general path does.
EDGE_FILES: dict[str, bytes] = {
    "duplicate ids": jsonl(user(1), user(2), {"id": "u1", "userName": "again@example.com"}),
    "a user without an id": jsonl(user(1), user(2), {"userName": "none@example.com"}),
    "an empty id": jsonl(user(1), {"id": "", "userName": "e@example.com"}),
    "a null id": jsonl(user(1), {"id": None, "userName": "e@example.com"}),
    "numeric ids": jsonl({"id": 1, "userName": "a"}, {"id": 2, "userName": "b"}),
    "a zero id": jsonl({"id": 0, "userName": "a"}, {"id": 2, "userName": "b"}),
    "ids of mixed types": jsonl({"id": "a", "userName": "a"}, {"id": 2, "userName": "b"}),
    "timestamp ids": jsonl({"id": "2024-01-01 10:00:00"}, {"id": "2024-01-02 10:00:00"}),
    "a numeric userName": jsonl(user(1), {"id": "u2", "userName": 5}),
    "numeric userNames": jsonl({"id": "a", "userName": 1}, {"id": "b", "userName": 2}),
    "a null userName": jsonl(user(1), {"id": "u2", "userName": None}),
    "a missing userName": jsonl(user(1), {"id": "u2"}),
    "an array line": jsonl(user(1), [user(2)]),
    "a scalar line": jsonl(user(1), 5),
    "broken JSON on line 2": jsonl(user(1)) + b'{"id": "u2",\n',
    "broken JSON on line 1": b'{"id": \n' + jsonl(user(2)),
    "two objects on one line": jsonl(user(1))[:-1] + b" " + jsonl(user(2), user(3)),
    "an object over two lines": b'{"id": "u1",\n"userName": "a"}\n' + jsonl(user(2)),
    "two per line and one over two lines":
        b'{"id":"u1"} {"id":"u2"}\n{"id":"u3","x":{"y":1}\n,"z":{"w":2}}\n',
    "blank lines": b"\n" + jsonl(user(1)) + b"\n  \n" + jsonl(user(2)) + b"\n",
    "CRLF line ends": jsonl(user(1), user(2)).replace(b"\n", b"\r\n"),
    "mixed line ends": jsonl(user(1)).replace(b"\n", b"\r\n") + jsonl(user(2), user(3)),
    "no final line end": jsonl(user(1), user(2))[:-1],
    "a byte order mark": b"\xef\xbb\xbf" + jsonl(user(1), user(2)),
    "not UTF-8": jsonl(user(1)) + '{"id": "u2", "userName": "é"}\n'.encode("latin-1"),
    "not UTF-8 in a key": jsonl(user(1)) + b'{"id": "u2", "n\xe9": "x"}\n',
    "NaN": jsonl(user(1)) + b'{"id": "u2", "title": NaN}\n',
    "a huge integer": jsonl(user(1)) + b'{"id": "u2", "title": 123456789012345678901234}\n',
    "a lone surrogate": jsonl(user(1)) + b'{"id": "u2", "title": "\\ud800"}\n',
    "a duplicated key": jsonl(user(1)) + b'{"id": "u2", "title": "a", "title": "b"}\n',
    "a raw tab in a string": jsonl(user(1)) + b'{"id": "u2", "title": "a\tb"}\n',
    "a type conflict": jsonl(user(1, title="x"), user(2, title=["x"])),
    "a document on one line": orjson.dumps([user(1), user(2)]) + b"\n",
    "a single user": jsonl(user(1)),
    "a ListResponse on one line": orjson.dumps(
        {"schemas": [snapshot_module.LIST_RESPONSE], "Resources": [user(1)]}) + b"\n",
    "an empty file": b"",
    "only line ends": b"\n\n",
    "a pretty-printed document": json.dumps([user(1), user(2)], indent=1).encode(),
}


def outcome(path: Path, paths: list[str]) -> tuple[str, Any, Any, str]:
    """(the error, or the frame, the resources and the digest) of reading a file."""
    try:
        taken = read_snapshot(path)
        return "", current_frame(taken, paths), taken.resources, taken.digest
    except Exception as error:  # a lone surrogate fails in pandas today: the same way, then
        return f"{type(error).__name__}: {error}", None, None, ""


@pytest.mark.parametrize("case", sorted(EDGE_FILES))
def test_edge_files_read_as_the_general_path_reads_them(
    tmp_path: Path, case: str, sample_size: None,
) -> None:
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(EDGE_FILES[case])
    error, frame, resources, digest = outcome(path, PATHS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot_module, "_columnar_users", lambda raw: None)
        expected_error, expected_frame, expected_resources, expected_digest = outcome(path, PATHS)
    assert error == expected_error
    if not error:
        assert_same_frame(frame, expected_frame)
        assert resources == expected_resources
        assert digest == expected_digest == hashlib.sha256(EDGE_FILES[case]).hexdigest()


@pytest.mark.parametrize(("case", "message"), [
    ("duplicate ids", "duplicate SCIM id 'u1'"),
    ("a user without an id", "row 3: SCIM user without an 'id'"),
    ("an empty id", "row 2: SCIM user without an 'id'"),
    ("a zero id", "row 1: SCIM user without an 'id'"),
    ("a numeric userName", "'userName' is not a string"),
    ("a null userName", "row 2: 'userName' is not a string"),
    ("an array line", "row 2: not a SCIM user object"),
    ("broken JSON on line 2", "row 2: invalid JSON line"),
    ("broken JSON on line 1", "not a SCIM snapshot: invalid JSON at line 3, column 1"),
    ("two objects on one line", "not a SCIM snapshot: invalid JSON at line 1, column 44"),
    ("an object over two lines", "not a SCIM snapshot: invalid JSON at line 3, column 1"),
    ("not UTF-8", "not a SCIM snapshot (not UTF-8 text)"),
])
def test_bad_json_lines_keep_their_messages(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(EDGE_FILES[case])
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_snapshot(path)


@pytest.mark.parametrize("case", ["CRLF line ends", "a byte order mark", "no final line end",
                                  "timestamp ids"])
def test_unusual_but_valid_lines_are_still_read_columnar(tmp_path: Path, case: str) -> None:
    path = tmp_path / "snapshot.jsonl"
    path.write_bytes(EDGE_FILES[case])
    assert read_snapshot(path).users is not None


def test_timestamp_looking_strings_stay_columnar(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "snapshot.jsonl", ODD_SHAPES["timestamp-looking strings"])
    taken = read_snapshot(path)
    path.unlink()  # a per-resource read would need the file
    frame = current_frame(taken, ["title", "displayName", "meta.created", "meta.version"])
    assert list(frame["displayName"]) == ["2024-01-02 10:00:00", "2024-02-02 11:00:00", pd.NA]
    assert list(frame["meta.created"]) == ["2019-03-04T08:24:38Z", "2020-03-04T08:24:38Z", pd.NA]


def test_snapshot_facts_need_no_resource_dicts(tmp_path: Path) -> None:
    from recon.notebook import snapshot_facts

    path = write_lines(tmp_path / "snapshot.jsonl", sample_users())
    general = snapshot_facts(dict_snapshot(path))
    taken = read_snapshot(path)
    path.unlink()
    facts = snapshot_facts(taken)
    assert {k: v for k, v in facts.items() if k != "taken at"} == {
        k: v for k, v in general.items() if k != "taken at"}
    assert facts["accounts"] == len(sample_users())


def test_a_snapshot_saved_as_json_lines_reads_back_columnar(tmp_path: Path) -> None:
    live = Snapshot.of(sample_users(), source="live")
    lines, document = tmp_path / "target.jsonl", tmp_path / "target.json"
    write_snapshot(live, lines)
    write_snapshot(live, document)
    again = read_snapshot(lines)
    assert again.users is not None  # the columnar reader took it: no dicts were made
    assert again.digest == hashlib.sha256(lines.read_bytes()).hexdigest()
    assert again.resources == live.resources
    paths = ["userName", "displayName", "emails[type eq \"work\"].value"]
    pd.testing.assert_frame_equal(current_frame(again, paths),
                                  current_frame(read_snapshot(document), paths))


def test_groups_are_never_dropped_silently_from_json_lines(tmp_path: Path) -> None:
    with_groups = Snapshot.of(sample_users(), groups=[{"id": "g1", "displayName": "Staff"}])
    with pytest.raises(InputError, match="users only"):
        write_snapshot(with_groups, tmp_path / "target.jsonl")


@pytest.mark.parametrize(("users", "message"), [
    ([{"id": "a", "userName": "x"}, {"id": "b", "userName": "y"}, {"id": "a", "userName": "z"}],
     "duplicate SCIM id 'a'"),
    ([{"userName": "x"}, {"id": "b", "userName": "y"}], "without an 'id'"),
])
def test_a_live_target_with_broken_ids_is_named_not_miscounted(
        users: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InputError, match=message):
        current_frame(Snapshot.of(users, source="https://scim.example/v2"), ["userName"])
