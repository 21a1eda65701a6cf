"""Microsoft Entra ID through Microsoft Graph: snapshot, mapping, credentials, configuration.

The real msgraph-sdk runs against ``recon.testing.graph_server``, a loopback Graph that follows
Microsoft's documentation (tests/test_entra_server.py pins it down). Nothing here mocks the SDK.
Push and verify: tests/test_entra_push.py; the issue's acceptance: tests/test_entra_acceptance.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recon.core.config import EntraTarget
from recon.core.normalize import current_frame
from recon.core.scim import ENTERPRISE
from recon.errors import ConfigError, PushError
from recon.targets.entra.credentials import graph_credential, graph_endpoint
from recon.targets.entra.graph import snapshot_entra
from recon.targets.entra.mapping import GRAPH_ATTRIBUTES, graph_property, graph_select
from recon.testing.graph_server import RunningGraph
from tests.entra_helpers import (
    DEPARTMENT,
    EMPLOYEE_NUMBER,
    MANAGER,
    TOKEN_ENV,
    entra,
    graph,
)

__all__ = ["graph"]


# -- snapshot ------------------------------------------------------------------------------------


def test_snapshot_follows_next_links_and_waits_out_a_429(graph: RunningGraph) -> None:
    """G-PAGE: follow @odata.nextLink verbatim; G-THR: 429 + Retry-After, then retry."""
    for number in range(25):
        graph.state.add_user(userPrincipalName=f"u{number}@contoso.com", employeeId=str(number))
    graph.state.throttle_pages = {1}

    snapshot = snapshot_entra(entra(graph, page_size=10), progress=False)

    assert sorted(r["externalId"] for r in snapshot.resources) == sorted(map(str, range(25)))
    gets = [r for r in graph.state.requests if r["path"] == "/v1.0/users"]
    assert len(gets) == 4  # three pages, the second one twice (429 then 200)
    first = gets[0]["query"]
    assert first["$top"] == "10"
    assert first["$select"].split(",") == graph_select()
    assert first["$expand"] == "manager($select=id,employeeId)"
    assert snapshot.source.startswith("entra:http://127.0.0.1:")
    assert snapshot.digest


def test_graph_user_maps_to_a_scim_user(graph: RunningGraph) -> None:
    boss = graph.state.add_user(userPrincipalName="boss@contoso.com", employeeId="1000")
    graph.state.add_user(
        id="7e57", userPrincipalName="Ada.Lovelace@contoso.com", employeeId="1001",
        accountEnabled=False, displayName="Ada Lovelace", givenName="Ada", surname="Lovelace",
        mail="ada@contoso.com", jobTitle="Analyst", department="Engines",
        companyName="Contoso", employeeOrgData={"costCenter": "CC1", "division": "R&D"},
        employeeType="Employee", employeeHireDate="2021-05-01T00:00:00Z",
        employeeLeaveDateTime="2026-12-31T00:00:00Z", onPremisesImmutableId="abc=",
        createdDateTime="2020-01-01T00:00:00Z", manager=boss["id"])

    users = {r["id"]: r for r in snapshot_entra(entra(graph), progress=False).resources}

    assert users["7e57"] == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE, "urn:recon:graph"],
        "id": "7e57",
        "userName": "Ada.Lovelace@contoso.com",
        "externalId": "1001",
        "active": False,
        "displayName": "Ada Lovelace",
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "title": "Analyst",
        "emails": [{"type": "work", "value": "ada@contoso.com", "primary": True}],
        "userType": "Employee",
        ENTERPRISE: {"employeeNumber": "1001", "department": "Engines",
                     "manager": {"value": boss["id"]}, "organization": "Contoso",
                     "costCenter": "CC1", "division": "R&D"},
        "urn:recon:graph": {"userType": "Member", "employeeType": "Employee",
                            "employeeHireDate": "2021-05-01T00:00:00Z",
                            "employeeLeaveDateTime": "2026-12-31T00:00:00Z",
                            "onPremisesImmutableId": "abc=",
                            "createdDateTime": "2020-01-01T00:00:00Z",
                            "managerEmployeeId": "1000"},
        "meta": {"resourceType": "User", "location": f"{graph.url}/users/7e57"},
    }
    assert "manager" not in users[boss["id"]][ENTERPRISE]  # none: left out, not null


def test_guests_and_accounts_without_employee_id_are_visible_to_exclude_rules(
    graph: RunningGraph,
) -> None:
    """Guests and users without employeeId are config matters (exclude/orphan), not code."""
    graph.state.add_user(id="m", userPrincipalName="m@contoso.com", employeeId="1")
    graph.state.add_user(id="g", userPrincipalName="g_fabrikam.com#EXT#@contoso.com",
                         userType="Guest")
    graph.state.add_user(id="s", userPrincipalName="svc-backup@contoso.com")

    snapshot = snapshot_entra(entra(graph), progress=False)
    frame = current_frame(snapshot, ["externalId", "urn:recon:graph:userType"]).set_index(
        "target_id")

    assert frame.loc["g", "urn:recon:graph:userType"] == "Guest"
    assert frame.loc["m", "urn:recon:graph:userType"] == "Member"
    assert pd.isna(frame.loc["s", "externalId"])


def test_a_server_side_filter_narrows_the_read(graph: RunningGraph) -> None:
    graph.state.add_user(userPrincipalName="m@contoso.com", employeeId="1")
    graph.state.add_user(userPrincipalName="g@contoso.com", userType="Guest")

    snapshot = snapshot_entra(entra(graph, user_filter="userType eq 'Member'"), progress=False)

    assert [r["userName"] for r in snapshot.resources] == ["m@contoso.com"]


@pytest.mark.parametrize(
    ("scim_path", "graph_name"),
    [
        ("userName", "userPrincipalName"),
        ('emails[type eq "work"].value', "mail"),
        ("name.givenName", "givenName"),
        ("name.familyName", "surname"),
        ("title", "jobTitle"),
        (DEPARTMENT, "department"),
        (EMPLOYEE_NUMBER, "employeeId"),
        (MANAGER, "manager"),
        ("active", "accountEnabled"),
        ("externalId", "employeeId"),
        ("USERNAME", "userPrincipalName"),  # SCIM attribute names are case-insensitive
        ("nickName", None),
    ],
)
def test_scim_paths_translate_to_graph_properties(scim_path: str, graph_name: str | None) -> None:
    assert graph_property(scim_path) == graph_name


def test_select_asks_for_every_translated_property_once() -> None:
    select = graph_select()
    assert len(select) == len(set(select))
    assert {a.select for a in GRAPH_ATTRIBUTES} - {"manager"} == set(select)


# -- credentials ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("graph_url", "accepted"),
    [
        ("https://graph.microsoft.com/v1.0", True),
        ("https://graph.microsoft.us/v1.0/", True),
        ("http://127.0.0.1:8123/v1.0", True),
        ("http://localhost:8123/v1.0", True),
        ("http://graph.example.com/v1.0", False),
        ("ftp://127.0.0.1/v1.0", False),
    ],
)
def test_plain_http_only_on_loopback(graph_url: str, accepted: bool) -> None:
    target = EntraTarget(credential="token", token_env=TOKEN_ENV, graph_url=graph_url)
    if accepted:
        assert not graph_endpoint(target).base_url.endswith("/")
    else:
        with pytest.raises(ConfigError, match="graph_url"):
            graph_endpoint(target)


def test_secrets_come_from_the_environment_and_are_never_echoed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = EntraTarget(credential="client_secret", tenant_id="t", client_id="c",
                         client_secret_env="RECON_TEST_SECRET")
    monkeypatch.delenv("RECON_TEST_SECRET", raising=False)
    with pytest.raises(ConfigError, match="RECON_TEST_SECRET"):
        graph_credential(target)
    monkeypatch.setenv("RECON_TEST_SECRET", "s3cr3t-value")
    assert "s3cr3t-value" not in repr(graph_credential(target))
    with pytest.raises(ConfigError, match="tenant_id"):
        graph_credential(EntraTarget(credential="client_secret", client_id="c",
                                     client_secret_env="RECON_TEST_SECRET"))


def test_a_refused_token_is_one_clear_error(graph: RunningGraph,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "expired-token")
    with pytest.raises(PushError, match="401") as raised:
        snapshot_entra(entra(graph), progress=False)
    assert "\n" not in str(raised.value)
    assert "expired-token" not in str(raised.value)


# -- sovereign clouds and configuration -----------------------------------------------------------


@pytest.mark.parametrize(
    ("graph_url", "authority"),
    [
        ("https://graph.microsoft.com/v1.0", "https://login.microsoftonline.com"),
        ("https://graph.microsoft.us/v1.0", "https://login.microsoftonline.us"),
        ("https://dod-graph.microsoft.us/v1.0", "https://login.microsoftonline.us"),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", "https://login.chinacloudapi.cn"),
    ],
)
@pytest.mark.parametrize("kind", ["client_secret", "device_code", "default"])
def test_every_credential_signs_in_to_the_cloud_of_its_graph_url(
    graph_url: str, authority: str, kind: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """learn.microsoft.com/graph/deployments: national clouds have their own Graph host and
    their own sign-in authority; a token from one is refused by the other."""
    monkeypatch.setenv("RECON_TEST_SECRET", "s")
    for name, value in (("AZURE_TENANT_ID", "t"), ("AZURE_CLIENT_ID", "c"),
                        ("AZURE_CLIENT_SECRET", "s")):  # DefaultAzureCredential's first link
        monkeypatch.setenv(name, value)
    target = EntraTarget(credential=kind, tenant_id="t", client_id="c",
                         client_secret_env="RECON_TEST_SECRET", graph_url=graph_url)

    credential = graph_credential(target)

    if kind == "default":  # the environment credential at the head of its chain
        credential = credential.credentials[0]._credential
    assert credential._authority == authority
    assert graph_endpoint(target).scope == f"https://{graph_url.split('/')[2]}/.default"


def test_an_unknown_graph_host_is_one_clear_error() -> None:
    target = EntraTarget(graph_url="https://graph.example.com/v1.0")
    with pytest.raises(ConfigError, match=r"not a Microsoft Graph host.*graph\.microsoft\.us"):
        graph_endpoint(target)


def test_token_env_means_a_token_credential_or_says_what_to_write() -> None:
    from recon.core.config import parse_config

    base = {"source": {"path": "hr.csv", "key": "id"}, "attributes": {"userName": "[id]"},
            "match": [{"source": "[id]", "target": "externalId"}]}

    implied = parse_config({**base, "target": {"entra": {"token_env": "T"}}}, base_dir=Path("."))
    assert implied.target.entra is not None and implied.target.entra.credential == "token"
    with pytest.raises(ConfigError) as raised:
        parse_config({**base, "target": {"entra": {"token_env": "T",
                                                   "credential": "client_secret"}}},
                     base_dir=Path("."))
    assert "write credential: token, or remove token_env" in str(raised.value)
    assert "\n" not in str(raised.value)
    with pytest.raises(ConfigError, match="needs token_env"):
        parse_config({**base, "target": {"entra": {"credential": "token"}}}, base_dir=Path("."))


@pytest.mark.parametrize(
    ("mappings", "message"),
    [
        ([{"source": "externalId", "target": "employeeId"}], "exactly one mapping needs matching"),
        ([{"source": "externalId", "target": "employeeId", "matching": True},
          {"source": "userName", "target": "userPrincipalName", "generated": True}],
         "generated value must be applied on object creation only"),
        ([{"source": "externalId", "target": "employeeId", "matching": True},
          {"source": "userName", "target": "employeeId"}], "target of several mappings"),
    ],
)
def test_mappings_are_checked_as_the_app_would(mappings: list[dict[str, Any]],
                                               message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EntraTarget(inbound={"service_principal_id": "s", "job_id": "j", "mappings": mappings})


def test_only_what_the_app_writes_is_compared() -> None:
    """Generated, create-only and unmapped attributes are never drift; active always counts."""
    from recon.core.config import EntraMapping
    from recon.targets.entra.mapping import AppMappings

    mappings = AppMappings((
        EntraMapping(source="externalId", target="employeeId", matching=True),
        EntraMapping(source="userName", target="userPrincipalName", apply="on_create",
                     generated=True),
        EntraMapping(source="title", target="jobTitle", apply="on_create"),
        EntraMapping(source=DEPARTMENT, target="department"),
        EntraMapping(source="urn:ietf:params:scim:schemas:extension:csv:1.0:User:HireDate",
                     target="employeeHireDate"),
    ))

    assert mappings.compared("externalId") and mappings.compared(DEPARTMENT)
    assert mappings.compared("active")
    assert not mappings.compared("userName") and not mappings.compared("userName", create=True)
    assert not mappings.compared("title") and mappings.compared("title", create=True)
    assert not mappings.compared('emails[type eq "work"].value')
    assert mappings.why_not_compared("userName") == \
        "userPrincipalName is generated by the Entra app"
    custom = "urn:ietf:params:scim:schemas:extension:csv:1.0:User:HireDate"
    assert mappings.compared(custom)  # read back from the property it is written to
    assert ("employeeHireDate", custom) in {(a.graph_property, a.scim_path)
                                            for a in mappings.read_table()}


# -- users/delta ---------------------------------------------------------------------------------


def test_repeated_snapshots_read_only_the_changes_through_users_delta(
    graph: RunningGraph, tmp_path: Path,
) -> None:
    """learn.microsoft.com/graph/api/user-delta: a full round, then only what changed; the
    deltaLink is kept in the run folder."""
    from recon.targets.entra.delta import DELTA_STATE, snapshot_delta

    boss = graph.state.add_user(userPrincipalName="boss@contoso.com", employeeId="1")
    for number in range(2, 150):
        graph.state.add_user(userPrincipalName=f"u{number}@contoso.com",
                             employeeId=str(number), manager=boss["id"])
    target = entra(graph)

    first = snapshot_delta(target, tmp_path, progress=False)
    gone = graph.state.by_employee_id("7")
    assert gone is not None
    graph.state.delete_user(gone["id"])
    changed = graph.state.by_employee_id("8")
    assert changed is not None
    changed["department"] = "Legal"
    graph.state.touch(changed["id"])
    graph.state.requests.clear()
    second = snapshot_delta(target, tmp_path, progress=False)
    calls = [r["path"] for r in graph.state.requests]
    full = snapshot_entra(target, progress=False)

    assert first.count == 149 and second.count == 148
    state = json.loads((tmp_path / DELTA_STATE).read_text(encoding="utf-8"))
    assert "$deltatoken=" in state["deltaLink"]
    assert calls == ["/v1.0/users/delta"]  # one call: the changes only
    strip = [{k: v for k, v in r.items() if k != "meta"} for r in full.resources]
    assert sorted(strip, key=lambda r: r["id"]) == sorted(
        ({k: v for k, v in r.items() if k != "meta"} for r in second.resources),
        key=lambda r: r["id"])


# -- access review: lifecycle dates and guests ------------------------------------------------------


def test_lifecycle_dates_and_guests_for_the_access_review(graph: RunningGraph) -> None:
    """Lifecycle Workflows trigger on employeeHireDate / employeeLeaveDateTime; guests carry
    externalUserState and createdDateTime (learn.microsoft.com/graph/api/resources/user)."""
    from datetime import date

    from recon.core.config import parse_config
    from recon.targets.entra.review import guests, lifecycle_dates
    from recon.workflows.reconcile import reconcile

    graph.state.add_user(id="a", userPrincipalName="a@contoso.com", employeeId="1",
                         employeeHireDate="2020-01-01T00:00:00Z")
    graph.state.add_user(id="b", userPrincipalName="b@contoso.com", employeeId="2",
                         employeeHireDate="2020-02-01T08:00:00Z",
                         employeeLeaveDateTime="2026-12-31T00:00:00Z")
    graph.state.add_user(id="g1", userPrincipalName="x_f.com#EXT#@contoso.com", userType="Guest",
                         externalUserState="Accepted", createdDateTime="2020-01-01T00:00:00Z")
    graph.state.add_user(id="g2", userPrincipalName="y_f.com#EXT#@contoso.com", userType="Guest",
                         externalUserState="PendingAcceptance",
                         createdDateTime="2026-11-01T00:00:00Z")
    hr = "id,status,hired,left,mail\n1,Active,2020-01-01,,a@contoso.com\n" \
         "2,Active,2020-02-01,,b@contoso.com\n"
    from tempfile import TemporaryDirectory

    with TemporaryDirectory() as where:
        (Path(where) / "hr.csv").write_text(hr, encoding="utf-8")
        config = parse_config({
            "as_of": "2026-11-15",
            "source": {"path": "hr.csv", "key": "id", "hire_date": "hired",
                       "termination_date": "left",
                       "status": {"column": "status", "active": ["Active"]}},
            "target": {"entra": {"token_env": TOKEN_ENV, "graph_url": graph.url}},
            "attributes": {"externalId": "[id]", "userName": "[mail]"},
            "match": [{"source": "[id]", "target": "externalId"}]}, base_dir=Path(where))
        result = reconcile(config)
    directory = snapshot_entra(config.target.entra, progress=False)  # type: ignore[arg-type]

    dates = lifecycle_dates(result, directory)
    invited = guests(directory, date(2026, 11, 15))

    assert dates[["hr_key", "differs"]].values.tolist() == [["2", "leave"]]
    assert dates.loc[0, "Entra employeeLeaveDateTime"] == date(2026, 12, 31)
    assert invited["externalUserState"].tolist() == ["PendingAcceptance", "Accepted"]
    assert invited["days since invited"].tolist() == [14, 2510]
