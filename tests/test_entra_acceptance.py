"""Issue 18's acceptance, end to end against the documented-behaviour Graph server.

A small HR file and a tenant that holds what real tenants hold: a manager the job never
processed, a leaver and a rehire matched by e-mail whose accounts lack (or carry another)
employeeId, a user synced from on-premises AD, a drifted worker, a worker whose UPN the app
generated. The app's mappings (the config's, and the server's own) generate the UPN on
creation, write mailNickname from userName and do not write mail.

What it shows: a leaver matched by e-mail is reported "link needed", never "succeeded"; after
the link op and a second push the account is disabled; no duplicate account is ever created;
verify's converged count equals what the server shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from recon.core.approve import approve
from recon.core.config import Config, EntraMapping, parse_config
from recon.core.scim import ENTERPRISE
from recon.testing.graph_server import DEFAULT_JOB_ID, DEFAULT_SP_ID, RunningGraph, running_graph
from recon.workflows.push import push
from recon.workflows.push_entra import link_plan
from recon.workflows.reconcile import plan, reconcile
from recon.workflows.verify_entra import verify_inbound

TOKEN_ENV = "RECON_TEST_GRAPH_TOKEN"
AS_OF = date(2026, 11, 15)
HR = """\
Employee ID,Status,First,Last,Work Email,Department,Manager
1001,Active,Alice,Archer,alice@contoso.com,Sales,
1002,Active,Bob,Baker,bob@contoso.com,Sales,1001
1003,Terminated,Carol,Cole,carol@contoso.com,Sales,1001
1004,Active,Dan,Dale,dan@contoso.com,Sales,1001
1005,Active,Eve,East,eve@contoso.com,Sales,1001
1006,Active,Frank,Fox,frank@contoso.com,Sales,1001
1007,Active,Gina,Gray,gina@contoso.com,Sales,1001
1008,Active,Hank,Hill,hank@contoso.com,Sales,1001
"""
MAPPINGS = [
    {"source": "externalId", "target": "employeeId", "matching": True},
    {"source": "userName", "target": "userPrincipalName", "apply": "on_create",
     "generated": True},
    {"source": "userName", "target": "mailNickname"},
    {"source": "active", "target": "accountEnabled"},
    {"source": "displayName", "target": "displayName"},
    {"source": "name.givenName", "target": "givenName"},
    {"source": "name.familyName", "target": "surname"},
    {"source": f"{ENTERPRISE}:department", "target": "department"},
    {"source": f"{ENTERPRISE}:manager", "target": "manager"},
]


@pytest.fixture
def tenant(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGraph]:
    monkeypatch.setenv(TOKEN_ENV, "acceptance-token")
    with running_graph("acceptance-token") as graph:
        graph.state.add_job(DEFAULT_SP_ID, DEFAULT_JOB_ID,
                            mappings=[EntraMapping(**m) for m in MAPPINGS])
        add = graph.state.add_user
        add(id="u-alice", userPrincipalName="alice@contoso.com", employeeId="1001",
            displayName="Alice Archer", givenName="Alice", surname="Archer", department="Sales")
        # A leaver matched by e-mail only: the account has no employeeId.
        add(id="u-carol", userPrincipalName="carol@contoso.com", displayName="Carol Cole",
            givenName="Carol", surname="Cole", department="Sales", manager="u-alice")
        # A rehire matched by e-mail whose disabled account carries another employeeId: recon
        # never writes over an identity (issue 15), so a person decides (a conflict).
        add(id="u-dan", userPrincipalName="dan@contoso.com", employeeId="9999",
            accountEnabled=False, displayName="Dan Dale", givenName="Dan", surname="Dale",
            department="Sales", manager="u-alice")
        # Synced from on-premises AD, drifted: only AD can change it.
        add(id="u-eve", userPrincipalName="eve@contoso.com", employeeId="1005",
            displayName="Eve East", givenName="Eve", surname="East", department="Legal",
            manager="u-alice", onPremisesSyncEnabled=True, onPremisesImmutableId="ZXZl")
        add(id="u-frank", userPrincipalName="frank@contoso.com", employeeId="1006",
            displayName="Frank Fox", givenName="Frank", surname="Fox", department="Legal",
            manager="u-alice")
        # Created by the job earlier: a generated UPN that is not the HR e-mail.
        add(id="u-hank", userPrincipalName="hank481@contoso.com", employeeId="1008",
            mailNickname="hank@contoso.com", displayName="Hank Hill", givenName="Hank",
            surname="Hill", department="Sales", manager="u-alice")
        yield graph


def config_for(graph: RunningGraph, folder: Path) -> Config:
    (folder / "hr.csv").write_text(HR, encoding="utf-8")
    data: dict[str, Any] = {
        "as_of": AS_OF.isoformat(),
        "source": {"path": "hr.csv", "key": "Employee ID",
                   "status": {"column": "Status", "active": ["Active"]},
                   "manager_key": "Manager"},
        "target": {"entra": {"token_env": TOKEN_ENV, "graph_url": graph.url, "inbound": {
            "service_principal_id": DEFAULT_SP_ID, "job_id": DEFAULT_JOB_ID,
            "mappings": MAPPINGS}}},
        "attributes": {
            "userName": "ToLower([Work Email])",
            "externalId": "[Employee ID]",
            "displayName": 'Join(" ", [First], [Last])',
            "name.givenName": "[First]",
            "name.familyName": "[Last]",
            'emails[type eq "work"].value': "ToLower([Work Email])",
            f"{ENTERPRISE}:department": "[Department]",
            f"{ENTERPRISE}:manager": {"reference": "[Manager]"},
        },
        "match": [{"source": "[Employee ID]", "target": "externalId"},
                  {"source": "ToLower([Work Email])", "target": "userName"}],
    }
    return parse_config(yaml.safe_load(yaml.safe_dump(data)), base_dir=folder)


def reasons_of(result: Any) -> dict[str, str]:
    return by_key(result.identities.dropna(subset=["hr_key"]), "reason")


def by_key(frame: Any, column: str = "status") -> dict[str, str]:
    return dict(zip(frame["hr_key"].astype(str), frame[column].astype(str), strict=True))


def test_only_the_matching_attribute_moves_a_record(tenant: RunningGraph,
                                                   tmp_path: Path) -> None:
    config = config_for(tenant, tmp_path)
    entra = config.target.entra
    assert entra is not None
    journal = tmp_path / "journal.db"
    users_before = len(tenant.state.users)

    first = reconcile(config)
    categories = by_key(first.identities.dropna(subset=["hr_key"]), "category")
    assert categories == {"1001": "in_sync", "1002": "joiner", "1003": "leaver",
                          "1004": "conflict", "1005": "drift", "1006": "drift",
                          "1007": "joiner", "1008": "in_sync"}
    assert "account holds externalId 9999, HR says 1004" in reasons_of(first)["1004"]
    reasons = by_key(first.identities.dropna(subset=["hr_key"]), "reason")
    assert "synced from on-premises AD" in reasons["1005"]
    # Hank's UPN (generated) and mail (not written by the app) differ from HR: not drift.
    assert "userPrincipalName is generated" in reasons["1008"]

    the_plan = plan(first, config)
    approval = approve(the_plan, approver="Ines Auditor", everything=True)
    pushed = push(the_plan, approval, config, journal, desired=first.desired, progress=False)

    statuses = by_key(pushed.results)
    assert statuses == {"1002": "succeeded", "1003": "link_needed",
                        "1005": "skipped", "1006": "succeeded", "1007": "succeeded"}
    assert "link needed" in by_key(pushed.results, "error")["1003"]
    assert pushed.manager_records == 1  # Alice restated first: the job had never processed her
    sent = [op["data"]["externalId"] for p in tenant.state.bulk_payloads
            for op in p["Operations"]]
    assert sent[0] == "1001" and {"1003", "1004", "1005"}.isdisjoint(sent)
    assert tenant.state.users["u-dan"]["employeeId"] == "9999"  # left as it is
    assert tenant.state.users["u-carol"]["accountEnabled"] is True  # never "succeeded"

    check = verify_inbound(the_plan, entra, journal, desired=first.desired, progress=False)
    states = by_key(check.results, "state")
    assert states == {"1002": "converged", "1003": "link_needed",
                      "1005": "skipped", "1006": "converged", "1007": "converged"}
    new_bob = tenant.state.by_employee_id("1002")
    assert new_bob is not None and new_bob["manager"] == "u-alice"  # resolved: Alice processed
    assert new_bob["userPrincipalName"].startswith("bob") and \
        new_bob["userPrincipalName"] != "bob@contoso.com"  # generated, and still converged

    links = link_plan(the_plan, pushed, entra, desired=first.desired)
    assert list(links.ops["action"]) == ["link"]
    assert by_key(links.ops, "before") == {"1003": '{"externalId":null}'}
    linked = push(links, approve(links, approver="Ines Auditor", everything=True), config,
                  journal, desired=first.desired, progress=False)
    assert set(linked.results["status"]) == {"succeeded"}
    assert tenant.state.users["u-carol"]["employeeId"] == "1003"
    assert tenant.state.users["u-dan"]["employeeId"] == "9999"
    linked_check = verify_inbound(links, entra, journal, desired=first.desired, progress=False)
    assert set(linked_check.results["state"]) == {"converged"}

    again = push(the_plan, approval, config, journal, desired=first.desired, progress=False)
    assert by_key(again.results)["1003"] == "succeeded"
    assert tenant.state.users["u-carol"]["accountEnabled"] is False
    assert tenant.state.users["u-dan"]["accountEnabled"] is False  # a person decides first

    # No duplicate account, ever: two joiners created, nobody else.
    assert len(tenant.state.users) == users_before + 2
    employee_ids = [u.get("employeeId") for u in tenant.state.users.values()]
    assert len(employee_ids) == len(set(employee_ids))

    final = verify_inbound(the_plan, entra, journal, desired=first.desired, progress=False)
    converged = set(final.results.loc[final.results["state"] == "converged", "hr_key"])
    assert converged == {"1002", "1003", "1006", "1007"}
    assert final.converged  # the synced user is reported apart (skipped), with its reason
    shown = {key for key, user in ((k, tenant.state.by_employee_id(k)) for k in
                                   ("1002", "1003", "1005", "1006", "1007"))
             if user is not None and user.get("department") == "Sales"
             and user["accountEnabled"] is (key != "1003")}
    assert len(converged) == len(shown)
    second = reconcile(config)
    assert set(second.identities["category"].dropna()) <= {"in_sync", "departed", "drift",
                                                            "conflict"}
    assert by_key(second.identities.dropna(subset=["hr_key"]), "category")["1005"] == "drift"


def test_the_link_round_trip_through_the_installed_command(tenant: RunningGraph,
                                                         tmp_path: Path) -> None:
    """recon push reports "link needed" (exit 1) and writes the link plan beside the journal;
    approving and pushing it, then the plan again, disables the leaver."""
    import os
    import subprocess
    import sys

    config_for(tenant, tmp_path)  # writes hr.csv
    data = {
        "as_of": AS_OF.isoformat(),
        "source": {"path": "hr.csv", "key": "Employee ID",
                   "status": {"column": "Status", "active": ["Active"]}},
        "target": {"entra": {"token_env": TOKEN_ENV, "graph_url": tenant.url, "inbound": {
            "service_principal_id": DEFAULT_SP_ID, "job_id": DEFAULT_JOB_ID,
            "mappings": MAPPINGS}}},
        "attributes": {"userName": "ToLower([Work Email])", "externalId": "[Employee ID]",
                       "displayName": 'Join(" ", [First], [Last])',
                       f"{ENTERPRISE}:department": "[Department]"},
        "match": [{"source": "[Employee ID]", "target": "externalId"},
                  {"source": "ToLower([Work Email])", "target": "userName"}],
    }
    (tmp_path / "entra.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    env = {**os.environ, TOKEN_ENV: "acceptance-token"}
    recon = str(Path(sys.executable).parent / "recon")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([recon, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    assert run("reconcile", "-c", "entra.yaml", "--out", "run", "--delta-state",
               "state").returncode == 0
    assert (tmp_path / "state").is_dir()  # Graph's delta link, kept for the next read
    assert run("approve", "--plan", "run/plan.json", "--category", "leaver", "--approver",
               "Ines", "--out", "run/approval.json").returncode == 0
    pushed = run("push", "-c", "entra.yaml", "--plan", "run/plan.json", "--approval",
                 "run/approval.json", "--journal", "run/journal.sqlite")
    assert pushed.returncode == 1 and "link_needed" in pushed.stdout + pushed.stderr
    assert "link plan" in pushed.stderr and (tmp_path / "run" / "link-plan.json").is_file()
    assert tenant.state.users["u-carol"]["accountEnabled"] is True
    assert run("approve", "--plan", "run/link-plan.json", "--all", "--approver", "Ines",
               "--out", "run/link-approval.json").returncode == 0
    assert run("push", "-c", "entra.yaml", "--plan", "run/link-plan.json", "--approval",
               "run/link-approval.json", "--journal", "run/journal.sqlite").returncode == 0
    again = run("push", "-c", "entra.yaml", "--plan", "run/plan.json", "--approval",
                "run/approval.json", "--journal", "run/journal.sqlite")
    assert again.returncode == 0, again.stderr
    assert tenant.state.users["u-carol"]["accountEnabled"] is False
