"""Snapshot documents and pages: read columnar, they give what the general reader gives.

A file may hold one ListResponse, a recon.snapshot/1 document (with groups), a JSON array of
users, a Graph /users page, or several pages of a listing — a JSON array of pages, or the pages
one after another (concatenated, one per line or pretty-printed). Each is written here from the
same users, read both ways, and compared: the current frame, the resources, the groups, the
digest, the errors. Graph users are mapped through the read table (recon.core.graph_users) one
by one on the general path and column-wise on the columnar one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from recon.core.graph_users import scim_user, scim_users_columnar
from recon.core.normalize import current_frame
from recon.core.snapshot import Snapshot
from recon.errors import InputError
from recon.io import snapshots as snapshot_module
from recon.io.snapshots import read_snapshot, snapshot_document
from tests.test_snapshot_columnar import ODD_SHAPES, PATHS, assert_same_frame, sample_users

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#users(id,displayName)"


def list_response(users: list[Any], start: int = 1, total: int | None = None) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": len(users) if total is None else total,
            "startIndex": start, "itemsPerPage": len(users), "Resources": users}


def pages_of(users: list[Any], size: int) -> list[dict[str, Any]]:
    return [list_response(users[at:at + size], at + 1, len(users))
            for at in range(0, len(users), size)]


def graph_pages(users: list[Any], size: int) -> list[dict[str, Any]]:
    pages = []
    for at in range(0, len(users), size):
        page: dict[str, Any] = {"@odata.context": CONTEXT, "value": users[at:at + size]}
        if at + size < len(users):
            page["@odata.nextLink"] = f"https://graph.microsoft.com/v1.0/users?$skiptoken={at}"
        pages.append(page)
    return pages


def forms(users: list[Any]) -> dict[str, bytes]:
    """Every file form of one listing of SCIM users."""
    pages = pages_of(users, 2)
    return {
        "a ListResponse": json.dumps(list_response(users)).encode(),
        "a pretty-printed ListResponse": json.dumps(list_response(users), indent=2).encode(),
        # Pretty-printed as a Windows editor saves it (CRLF), and with no indent (every value
        # on its own line, "}" and "{" one line break apart, a comma between).
        "a pretty-printed ListResponse with CRLF": json.dumps(
            list_response(users), indent=2).replace("\n", "\r\n").encode(),
        "a ListResponse with indent 0": json.dumps(list_response(users), indent=0).encode(),
        "a ListResponse some of whose users span lines": (
            json.dumps(list_response(users))[:-2].rsplit('"Resources": [', 1)[0]
            + '"Resources": [' + ",".join(json.dumps(user, indent=1 if at % 3 else None)
                                          for at, user in enumerate(users)) + "]}").encode(),
        "a ListResponse saved without its schemas": json.dumps(
            {k: v for k, v in list_response(users).items() if k != "schemas"}).encode(),
        "a recon.snapshot/1 document": json.dumps(snapshot_document(
            Snapshot.of(users, source="https://scim.example.com/v2")), indent=1,
            ensure_ascii=False).encode(),
        "a JSON array of users": json.dumps(users, ensure_ascii=False).encode(),
        "a JSON array of pages": json.dumps(pages).encode(),
        "pages one per line": b"".join(json.dumps(p).encode() + b"\n" for p in pages),
        "pages concatenated, pretty-printed": b"".join(
            json.dumps(p, indent=1).encode() for p in pages),
        "pages with a BOM and CRLF": b"\xef\xbb\xbf" + b"".join(
            json.dumps(p).encode() + b"\r\n" for p in pages),
    }


def general(path: Path) -> Snapshot:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot_module, "_columnar_users", lambda raw: None)
        return read_snapshot(path)


def outcome(path: Path) -> tuple[str, Any, Any, Any, str, str]:
    try:
        taken = read_snapshot(path)
        return ("", current_frame(taken, PATHS), taken.resources, taken.groups, taken.digest,
                taken.source)
    except Exception as error:
        return f"{type(error).__name__}: {error}", None, None, None, "", ""


def assert_both_ways(path: Path, *, columnar: bool = True) -> Snapshot:
    taken = read_snapshot(path)
    assert (taken.users is not None) is columnar
    error, frame, resources, groups, digest, source = outcome(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot_module, "_columnar_users", lambda raw: None)
        expected = outcome(path)
    assert error == expected[0]
    assert_same_frame(frame, expected[1])
    assert resources == expected[2]
    assert groups == expected[3]
    assert digest == expected[4] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert source == expected[5]
    return taken


@pytest.mark.parametrize("form", list(forms(sample_users())))
def test_every_form_of_the_samples_reads_columnar_as_the_general_path(
        tmp_path: Path, form: str) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(forms(sample_users())[form])
    taken = assert_both_ways(path)
    assert taken.count == len(sample_users())


@pytest.mark.parametrize("shape", sorted(ODD_SHAPES))
@pytest.mark.parametrize("form", ["a ListResponse", "pages one per line",
                                  "pages concatenated, pretty-printed", "a JSON array of pages"])
def test_odd_users_in_documents_read_as_the_general_path(tmp_path: Path, shape: str,
                                                         form: str) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(forms(ODD_SHAPES[shape])[form])
    error, frame, resources, _, digest, _ = outcome(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(snapshot_module, "_columnar_users", lambda raw: None)
        expected = outcome(path)
    assert error == expected[0]
    if not error:
        assert_same_frame(frame, expected[1])
        assert resources == expected[2]
        assert digest == expected[4]


def test_groups_come_with_the_columnar_users(tmp_path: Path) -> None:
    groups = [{"id": "g1", "displayName": "dept-Sales", "members": [{"value": "u1"}]}]
    users = sample_users()
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot_document(Snapshot.of(users, groups=groups)), indent=1))
    taken = assert_both_ways(path)
    assert taken.groups == groups


def test_the_pages_of_a_listing_are_one_target(tmp_path: Path) -> None:
    users = sample_users()
    path = tmp_path / "pages.json"
    path.write_bytes(forms(users)["pages one per line"])
    assert [u["id"] for u in read_snapshot(path).resources] == [u["id"] for u in users]


# ---- errors: the same on both paths, and an incomplete listing refused --------------------------

BAD: dict[str, tuple[bytes, str]] = {
    "a page short of totalResults": (
        json.dumps(list_response([{"id": "a", "userName": "a"}, {"id": "b", "userName": "b"}],
                                 total=5)).encode(),
        "hold 2 users but totalResults is 5"),
    "a page missing from the pages": (
        b"".join(json.dumps(p).encode() + b"\n" for p in pages_of(
            [{"id": str(n), "userName": str(n)} for n in range(6)], 2)[:2]),
        "hold 4 users but totalResults is 6"),
    "a Graph export that stops early": (
        json.dumps(graph_pages([{"id": "a"}, {"id": "b"}, {"id": "c"}], 2)[:1]).encode(),
        "last page has an @odata.nextLink"),
    "pages of two kinds": (
        json.dumps([list_response([{"id": "a"}]), {"value": [{"id": "b"}]}]).encode(),
        "page 2 is not a SCIM ListResponse like page 1"),
    "a user twice across pages": (
        b"".join(json.dumps(list_response([{"id": "a", "userName": "a"}], n, 2)).encode()
                 + b"\n" for n in (1, 2)),
        "duplicate SCIM id 'a'"),
    "a broken second page": (
        json.dumps(list_response([{"id": "a"}], 1, 2)).encode() + b'\n{"schemas": [\n',
        "row 2: invalid JSON line"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_documents_are_refused_the_same_way(tmp_path: Path, case: str) -> None:
    raw, message = BAD[case]
    path = tmp_path / "snapshot.json"
    path.write_bytes(raw)
    with pytest.raises(InputError, match=message.replace("(", r"\(")) as caught:
        read_snapshot(path)
    with pytest.raises(InputError) as general_error:
        general(path)
    assert str(caught.value) == str(general_error.value)


# ---- a Graph /users export --------------------------------------------------------------------

def graph_user(number: int, **properties: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"0000-{number}", "userPrincipalName": f"user{number}@contoso.com",
        "employeeId": f"{1000 + number}", "accountEnabled": True,
        "displayName": f"User {number}", "givenName": "Ann", "surname": "Lee",
        "jobTitle": "Engineer", "mail": f"user{number}@contoso.com", "department": "Sales",
        "companyName": "Contoso", "employeeOrgData": {"costCenter": "CC-1", "division": None},
        "employeeType": "Employee"}
    base.update(properties)
    return {key: value for key, value in base.items() if value is not ...}


GRAPH_USERS: dict[str, list[dict[str, Any]]] = {
    "plain": [graph_user(1), graph_user(2), graph_user(3, accountEnabled=False)],
    "nulls and empty strings": [
        graph_user(1, jobTitle=None, mail=None, employeeOrgData=None),
        graph_user(2, jobTitle="", department="", givenName=None, surname=None),
        graph_user(3, employeeId=None, userPrincipalName=None),
    ],
    "absent properties": [
        graph_user(1, employeeOrgData=..., companyName=..., accountEnabled=...),
        {"id": "only-id"}, graph_user(3, mail=...),
    ],
    "managers": [
        graph_user(1, manager={"@odata.type": "#microsoft.graph.user", "id": "0000-2",
                               "employeeId": "1002"}),
        graph_user(2, manager={"id": "0000-3", "employeeId": None}),
        graph_user(3, manager=None), graph_user(4, manager={"id": "x", "employeeId": ""}),
    ],
    "hybrid and lifecycle": [
        graph_user(1, onPremisesSyncEnabled=True, onPremisesImmutableId="abc==",
                   employeeHireDate="2020-01-01T00:00:00Z", userType="Member"),
        graph_user(2, onPremisesSyncEnabled=False, userType="Guest",
                   externalUserState="PendingAcceptance"),
        graph_user(3, createdDateTime="2019-03-04T08:24:38Z", mailNickname="u3"),
    ],
    "numbers where text is expected": [graph_user(1, employeeId=1001), graph_user(2)],
    "unicode": [graph_user(1, displayName="Łukasz \"Łu\" Nowak", surname="e\u0301"),
                graph_user(2, givenName="\U0001f600")],
}


def test_the_column_mapping_is_scim_user_for_every_graph_shape() -> None:
    for name, users in GRAPH_USERS.items():
        try:
            array = pa.array(users)
        except pa.ArrowInvalid:  # numbers among strings: never columnar
            assert name == "numbers where text is expected"
            continue
        mapped = scim_users_columnar(array, "https://graph.microsoft.com/v1.0")
        if mapped is None:
            assert name == "numbers where text is expected", name
            continue
        expected = [scim_user(u, "https://graph.microsoft.com/v1.0") for u in users]
        rows = [_without_nulls(row) for row in mapped.to_pylist()]
        assert rows == expected, name


def _without_nulls(value: Any) -> Any:
    """A struct row as the dict scim_user makes: absent keys instead of nulls."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


@pytest.mark.parametrize("shape", sorted(GRAPH_USERS))
@pytest.mark.parametrize("form", ["one page", "a JSON array of pages", "pages one per line"])
def test_a_graph_export_reads_columnar_as_the_general_path(tmp_path: Path, shape: str,
                                                           form: str) -> None:
    users = GRAPH_USERS[shape]
    pages = graph_pages(users, 2)
    raw = {"one page": json.dumps(graph_pages(users, 100)[0]).encode(),
           "a JSON array of pages": json.dumps(pages).encode(),
           "pages one per line": b"".join(json.dumps(p).encode() + b"\n" for p in pages)}[form]
    path = tmp_path / "graph.json"
    path.write_bytes(raw)
    taken = assert_both_ways(path, columnar=shape != "numbers where text is expected")
    assert taken.resources == [scim_user(u, "https://graph.microsoft.com/v1.0") for u in users]


def test_groups_beside_graph_pages_read_as_on_the_general_path(tmp_path: Path) -> None:
    """A group list beside a Graph page's users: both readers keep it (they used to differ)."""
    users = GRAPH_USERS[sorted(GRAPH_USERS)[0]]
    pages = graph_pages(users, 2)
    pages[0]["groups"] = [{"id": "g1", "displayName": "dept-Sales",
                           "members": [{"value": "u1", "type": "User"}]}]
    path = tmp_path / "graph.json"
    path.write_bytes(b"".join(json.dumps(p).encode() + b"\n" for p in pages))
    taken = assert_both_ways(path)
    assert taken.groups is not None and [g["id"] for g in taken.groups] == ["g1"]
