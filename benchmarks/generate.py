"""Write a synthetic HR extract, SCIM snapshot and config of N people for benchmarks.

    python benchmarks/generate.py 1000000 --out out/bench/1000000

Deterministic for a given N and seed. Every worker is drawn with an *intended* category
(about 73% in sync, 10% drift, 5% joiners, 4% leavers, 3% orphan accounts, plus links,
rehires, future hires, departed workers, conflicts, invalid rows and service accounts); the
snapshot holds each matched worker's account as the exact image of its HR row through the
config's mapping, with drift applied where intended. ``expected.json`` holds the intended count
per category, so the benchmark can check that recon sees what the generator meant.

Writes ``workers.csv`` (UTF-8, ``%m/%d/%Y`` dates, non-ASCII names), ``snapshot.jsonl`` (JSON
lines; ``--snapshot-format list`` writes a SCIM ListResponse instead), ``recon.yaml`` and
``expected.json``. ``--shapes`` writes the same workforce in the other file shapes users bring
(shapes.py: a Workday-style CSV, an XLSX workbook, a ListResponse, pages, a Graph export, a
snapshot with groups), each with its config ``recon-<shape>.yaml``; ``--charset cp1252`` draws
only names Windows-1252 can spell (for the cp1252 extract). The generated config uses only
``[Column]`` references and ``"literal"``s; ``--expressions full`` uses Entra functions
(ToLower, Coalesce, Join, IIF, Left) as a real deployment would, for the full expression engine.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from shapes import (
    HR_SHAPES,
    TARGET_SHAPES,
    HrWriters,
    department_groups,
    write_targets,
)

SEED = 20261115
AS_OF = date(2026, 11, 15)
PREHIRE_DAYS = 14
DOMAIN = "example.com"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ID_NAMESPACE = uuid.UUID("0b7e4f55-93c1-4c7e-8a55-5d0c1f4e9a21")
DATE_FORMAT = "%m/%d/%Y"

COLUMNS = [
    "Employee ID", "Worker Status", "Worker Type", "Legal First Name", "Preferred First Name",
    "Legal Last Name", "Display Name", "Work Email", "Business Title",
    "Supervisory Organization", "Cost Center", "Manager Employee ID", "Hire Date",
    "Termination Date", "Location", "Country",
]

FIRST_NAMES = (  # noqa: SIM905 (a list literal of 64 names would be unreadable)
    "Emily Michael Sarah David Jessica James José María Guadalupe Alejandro Verónica Sofía "
    "Begoña Iñaki Álvaro Inés Raúl Nuria Jürgen Jörg Günther Käthe Lukas Anna Sönke Łukasz "
    "Małgorzata Paweł Żaneta Wojciech Søren Mette Anders Åsa Björn Maëlle Hélène François "
    "Chloé Nguyễn Thảo Trần Minh Wei Xiù Yīng Pádraig Siobhán Aoife Seán Zoë Noël Øystein "
    "Ingrid Priya Arjun Ananya Dvořák Tomáš Ľubica Ibrahim Ayşe Çağla Oğuz"
).split()
LAST_NAMES = [name.replace("_", " ") for name in (  # noqa: SIM905
    "Smith Johnson Williams García Rodríguez Martínez Hernández López González Pérez Sánchez "
    "Müller Schröder Weiß Groß Köhler Jäger Nowak Kowalski Wiśniewski Wójcik Kamiński "
    "Lewandowski Zieliński Szymański Jørgensen Sørensen Nørgaard Ångström Sjögren Lindqvist "
    "Ó_Súilleabháin Ní_Bhriain MacGiolla Lefèvre Gauthier Bérubé Nguyễn Trần Lê Phạm Zhāng "
    "Wáng Lǐ Patel Sharma Iyer Novák Dvořák Čapek Öztürk Yılmaz Şahin Çelik Müller-Lüdenscheidt "
    "van_der_Berg"
).split()]
TITLES = [
    "Software Engineer", "Senior Software Engineer", "Staff Engineer", "Product Manager",
    "Data Analyst", "Account Executive", "Customer Success Manager", "HR Business Partner",
    "Recruiter", "Financial Analyst", "Controller", "Legal Counsel", "Office Manager",
    "Identity & Access Engineer", "Site Reliability Engineer", "UX Designer", "Sales Director",
    "Support Engineer", "Marketing Manager", "Chief of Staff",
]
ORGS = [
    "Product Engineering", "Platform", "Sales EMEA", "Sales Americas", "Sales APAC", "Finance",
    "Legal", "People", "Marketing", "IT Operations", "Security", "Customer Success",
    "Research & Développement", "Logistique", "Vertrieb DACH",
]
LOCATIONS = [
    ("San Francisco, CA", "US"), ("New York, NY", "US"), ("Austin, TX", "US"),
    ("Ciudad de México", "MX"), ("Madrid", "ES"), ("München", "DE"), ("Berlin", "DE"),
    ("Warszawa", "PL"), ("København", "DK"), ("Stockholm", "SE"), ("Hồ Chí Minh", "VN"),
    ("Shanghai", "CN"), ("Dublin", "IE"), ("Paris", "FR"), ("London", "GB"), ("Bengaluru", "IN"),
    ("Kraków", "PL"), ("Malmö", "SE"), ("Zürich", "CH"), ("İstanbul", "TR"),
]

# Intended category of each worker and its share of N; "in_sync" takes the rest.
SHARES = {
    "drift": 0.10, "joiner": 0.05, "leaver": 0.04, "leaver_done": 0.03, "departed": 0.02,
    "intern": 0.01, "future_hire": 0.005, "link": 0.005, "rehire": 0.003, "conflict": 0.002,
    "bad_email": 0.002, "bad_date": 0.002, "no_key": 0.001, "duplicate_key": 0.002,
}
ORPHAN_SHARE = 0.03
SERVICE_SHARE = 0.002
NFD_SHARE = 0.01  # in-sync accounts stored decomposed / upper-cased: equal after normalization
MANAGER_SHARE = 0.04  # the first in-sync workers manage everyone else
LOCALITY_DRIFT = 5  # the drift kind that changes only the work address


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def attributes(full: bool) -> dict[str, Any]:
    """The config's mapping: SCIM path -> expression (only [Column] and literals unless full)."""
    return {
        "userName": "ToLower([Work Email])" if full else "[Work Email]",
        "externalId": "[Employee ID]",
        "displayName": (
            'Join(" ", Coalesce([Preferred First Name], [Legal First Name]), [Legal Last Name])'
            if full else "[Display Name]"),
        "name.givenName": (
            "Coalesce([Preferred First Name], [Legal First Name])" if full
            else "[Legal First Name]"),
        "name.familyName": "[Legal Last Name]",
        "title": "[Business Title]",
        'emails[type eq "work"].value': "ToLower([Work Email])" if full else "[Work Email]",
        'addresses[type eq "work"].locality': "[Location]",
        f"{ENTERPRISE}:employeeNumber": "[Employee ID]",
        f"{ENTERPRISE}:department": "[Supervisory Organization]",
        f"{ENTERPRISE}:costCenter": "[Cost Center]",
        f"{ENTERPRISE}:organization": '"Example Corporation"',
        f"{ENTERPRISE}:manager": {"reference": "[Manager Employee ID]"},
    }


#: What a Graph export cannot hold (Graph has no work address in recon's read table).
NOT_IN_GRAPH = {'addresses[type eq "work"].locality'}


def config_yaml(full: bool, snapshot_name: str, hr_name: str = "workers.csv",
                *, graph: bool = False, groups: bool = False) -> str:
    mapping = {path: expression for path, expression in attributes(full).items()
               if not (graph and path in NOT_IN_GRAPH)}
    lines = [
        "# Generated by benchmarks/generate.py: a synthetic workforce for the benchmark.",
        f"as_of: {AS_OF.isoformat()}",
        "source:",
        f"  path: {hr_name}",
        "  key: Employee ID",
        "  status: {column: Worker Status, active: [Active, Leave of Absence]}",
        "  hire_date: Hire Date",
        "  termination_date: Termination Date",
        f'  date_format: "{DATE_FORMAT}"',
        "  manager_key: Manager Employee ID",
        "  email: [Work Email]",
    ]
    if full:
        lines.append("""  scope: 'IIF([Worker Type]="Intern", "False", "True")'""")
    lines += ["target:", f"  file: {snapshot_name}"]
    if full:
        lines.append("""  exclude: 'Left([userName], 4) = "svc-"'""")
    lines.append("attributes:")
    for path, expression in mapping.items():
        value = (f"{{reference: {json.dumps(expression['reference'])}}}"
                 if isinstance(expression, dict) else json.dumps(expression))
        lines.append(f"  {json.dumps(path)}: {value}")
    email = "ToLower([Work Email])" if full else "[Work Email]"
    lines += [
        "match:",
        f'  - {{source: "[Employee ID]", target: "{ENTERPRISE}:employeeNumber"}}',
        f'  - {{source: "{email}", target: userName}}',
        "policy: {prehire_days: 14, orphans: report, leavers: disable, max_disables: 50,"
        " max_deletes: 0}",
        "quality: {max_invalid_share: 0.2}",
    ]
    if groups:
        lines += ["groups:",
                  """  rules: [{name: 'Join("", "dept-", [Supervisory Organization])'}]""",
                  '  managed: ["dept-*"]',
                  "  chunk_size: 1000"]
    return "\n".join([*lines, ""])


def cp1252_spelling(text: str) -> str:
    """The text as a Windows-1252 extract can spell it: letters it lacks lose their marks
    (Ł → L, ı → i, ễ → e)."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char.translate(_NO_DECOMPOSITION))
            out.append("".join(c for c in plain if c.encode("cp1252", "ignore")))
    return unicodedata.normalize("NFC", "".join(out))


_NO_DECOMPOSITION = str.maketrans({"Ł": "L", "ł": "l", "ı": "i", "Đ": "D", "đ": "d"})


def _dates(rng: np.random.Generator, n: int, start: date, end: date) -> list[str]:
    days = rng.integers(0, (end - start).days + 1, size=n)
    base = np.datetime64(start.isoformat())
    return [str(d) for d in (base + days.astype("timedelta64[D]"))]


def _us_date(iso: str) -> str:
    return f"{iso[5:7]}/{iso[8:10]}/{iso[0:4]}"


def _uuid(n: int, rng: np.random.Generator) -> list[str]:
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return [str(uuid.UUID(bytes=row.tobytes())) for row in raw]


def generate(n: int, out: Path, *, full: bool = False, snapshot_format: str = "jsonl",
             seed: int = SEED, shapes: list[str] | None = None,
             charset: str = "utf-8") -> dict[str, Any]:
    """Write the files for n workers into out; return the intended counts per category.

    Without ``shapes``: workers.csv, the snapshot (``snapshot_format``) and recon.yaml. With
    ``shapes`` (names of shapes.HR_SHAPES and shapes.TARGET_SHAPES): those files, and a config
    ``recon-<shape>.yaml`` for each (an HR shape against JSON lines, a target shape against the
    plain CSV)."""
    rng = np.random.default_rng(seed + n)
    first_names, last_names, locations = FIRST_NAMES, LAST_NAMES, LOCATIONS
    if charset == "cp1252":
        first_names = [cp1252_spelling(name) for name in FIRST_NAMES]
        last_names = [cp1252_spelling(name) for name in LAST_NAMES]
        locations = [(cp1252_spelling(place), country) for place, country in LOCATIONS]
    hr_shapes = [s for s in shapes or ["csv"] if s in HR_SHAPES]
    target_shapes = [s for s in shapes or [] if s in TARGET_SHAPES]
    if shapes is None or (hr_shapes and not target_shapes):
        target_shapes = ["jsonl" if snapshot_format == "jsonl" else "list"]
    if target_shapes and "csv" not in hr_shapes and not (
            charset == "cp1252" and hr_shapes == ["cp1252"]):
        hr_shapes.append("csv")  # the target shapes are read against the plain CSV
    out.mkdir(parents=True, exist_ok=True)
    plans = np.array(["in_sync"] * n, dtype=object)
    managers = max(1, int(n * MANAGER_SHARE))
    pool = np.arange(managers, n)
    rng.shuffle(pool)
    start = 0
    for name, share in SHARES.items():
        count = round(n * share)
        if name == "duplicate_key":
            count -= count % 2
        plans[pool[start:start + count]] = name
        start += count

    first = rng.choice(first_names, size=n)
    last = rng.choice(last_names, size=n)
    preferred = np.where(rng.random(n) < 0.08, rng.choice(first_names, size=n), "")
    titles = rng.choice(TITLES, size=n)
    orgs = rng.choice(ORGS, size=n)
    places = rng.integers(0, len(LOCATIONS), size=n)
    costs = rng.integers(1000, 9999, size=n)
    manager_of = rng.integers(0, managers, size=n)
    hires = _dates(rng, n, date(1998, 1, 1), AS_OF - timedelta(days=720))  # before any end
    ends = _dates(rng, n, AS_OF - timedelta(days=700), AS_OF - timedelta(days=1))
    soon = _dates(rng, n, AS_OF - timedelta(days=20), AS_OF + timedelta(days=PREHIRE_DAYS))
    later = _dates(rng, n, AS_OF + timedelta(days=30), AS_OF + timedelta(days=200))
    drift_kind = rng.integers(0, 7, size=n)
    ids = _uuid(n + int(n * (ORPHAN_SHARE + SERVICE_SHARE)) + 2 * n // 500 + 10, rng)
    keys = [str(1_000_000 + i) for i in range(n)]
    emails = [f"{_ascii(given)}.{_ascii(family)}.{key}@{DOMAIN}"
              for given, family, key in zip(first, last, keys, strict=True)]
    duplicate_rows = np.flatnonzero(plans == "duplicate_key")
    for a, b in zip(duplicate_rows[0::2], duplicate_rows[1::2], strict=True):
        keys[b] = keys[a]  # two workers share one key: both invalid
    account_of: dict[int, str] = {}
    has_account = ~np.isin(plans, ["joiner", "departed", "intern", "future_hire", "no_key",
                                   "duplicate_key"])
    next_id = 0
    for row in np.flatnonzero(has_account):
        account_of[int(row)] = ids[next_id]
        next_id += 1

    expected: Counter[str] = Counter()
    unseen_in_graph = 0  # drift a Graph export cannot show (no work address in its table)
    resources: list[dict[str, Any]] = []
    writers = HrWriters(out, hr_shapes, COLUMNS, {"Hire Date", "Termination Date"})
    try:
        for row in range(n):
            plan = str(plans[row])
            key = keys[row]
            given = str(first[row])
            pref = str(preferred[row])
            family = str(last[row])
            shown = f"{pref or given} {family}"
            email = emails[row]
            place, country = locations[places[row]]
            status, worker_type, hire, ended = "Active", "Employee", hires[row], ""
            if row % 11 == 0:
                worker_type = "Contingent Worker"
            if row % 97 == 0:
                status = "Leave of Absence"
            manager = keys[manager_of[row]] if row >= managers else ""
            if plan in {"leaver", "leaver_done", "departed"}:
                status, ended = "Terminated", ends[row]
            elif plan == "joiner":
                hire = soon[row]
            elif plan == "future_hire":
                hire = later[row]
            elif plan == "intern":
                worker_type, hire = "Intern", soon[row]
            hr_email = email.upper() if full and row % 13 == 0 else email
            cells = {
                "Employee ID": "" if plan == "no_key" else key,
                "Worker Status": status,
                "Worker Type": worker_type,
                "Legal First Name": given,
                "Preferred First Name": pref,
                "Legal Last Name": family,
                "Display Name": shown,
                "Work Email": hr_email.replace("@", " at ") if plan == "bad_email" else hr_email,
                "Business Title": str(titles[row]),
                "Supervisory Organization": str(orgs[row]),
                "Cost Center": f"CC-{costs[row]}",
                "Manager Employee ID": manager,
                "Hire Date": "31/02/2026" if plan == "bad_date" else _us_date(hire),
                "Termination Date": _us_date(ended) if ended else "",
                "Location": place,
                "Country": country,
            }
            writers.row(list(cells.values()))
            expected[_category(plan, full)] += 1
            if row not in account_of:
                continue
            account = {
                "id": account_of[row],
                "userName": email,
                "externalId": key,
                "displayName": shown,
                "givenName": (pref or given) if full else given,
                "familyName": family,
                "title": str(titles[row]),
                "locality": place,
                "country": country,
                "employeeNumber": key,
                "department": str(orgs[row]),
                "costCenter": f"CC-{costs[row]}",
                "manager": account_of.get(int(manager_of[row])) if manager else None,
                "active": plan not in {"leaver_done", "rehire"},
            }
            if plan == "drift":
                _drift(account, int(drift_kind[row]), ids[-1])
                unseen_in_graph += int(drift_kind[row]) == LOCALITY_DRIFT
            elif plan == "link":
                account["employeeNumber"] = account["externalId"] = None
            elif plan == "in_sync" and row % int(1 / NFD_SHARE) == 5:
                account["userName"] = email.upper()
                account["familyName"] = unicodedata.normalize("NFD", family)
            resources.append(_resource(account))
            if plan == "conflict":
                twin = {**account, "id": ids[next_id], "userName": f"dup-{email}"}
                next_id += 1
                resources.append(_resource(twin))
                expected["conflict"] += 2
    finally:
        writers.close()

    for number in range(int(n * ORPHAN_SHARE)):
        given, family = str(rng.choice(first_names)), str(rng.choice(last_names))
        resources.append(_resource({
            "id": ids[next_id], "userName": f"{_ascii(given)}.{_ascii(family)}.x{number}@{DOMAIN}",
            "externalId": f"X{number}", "displayName": f"{given} {family}", "givenName": given,
            "familyName": family, "title": str(rng.choice(TITLES)), "locality": None,
            "country": None, "employeeNumber": f"X{number}", "department": None,
            "costCenter": None, "manager": None, "active": number % 3 != 0,
        }))
        next_id += 1
        expected["orphan"] += 1
    for number in range(int(n * SERVICE_SHARE)):
        resources.append(_resource({
            "id": ids[next_id], "userName": f"svc-robot{number}@{DOMAIN}", "externalId": None,
            "displayName": f"Service robot {number}", "givenName": None, "familyName": None,
            "title": None, "locality": None, "country": None, "employeeNumber": None,
            "department": None, "costCenter": None, "manager": None, "active": True,
        }))
        next_id += 1
        expected["excluded" if full else "orphan"] += 1
    order = rng.permutation(len(resources))
    resources = [resources[index] for index in order]
    if shapes is None:
        snapshot_name = "snapshot.jsonl" if snapshot_format == "jsonl" else "snapshot.json"
        if snapshot_format == "jsonl":
            write_targets(out, ["jsonl"], resources, [])
        else:
            (out / snapshot_name).write_text(json.dumps(
                {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
                 "itemsPerPage": len(resources), "Resources": resources},
                ensure_ascii=False), encoding="utf-8")
        (out / "recon.yaml").write_text(config_yaml(full, snapshot_name), encoding="utf-8")
    else:
        groups = department_groups(resources) if "groups" in target_shapes else []
        write_targets(out, target_shapes, resources, groups)
        for shape in hr_shapes:
            (out / f"recon-{shape}.yaml").write_text(
                config_yaml(full, TARGET_SHAPES["jsonl"], HR_SHAPES[shape]), encoding="utf-8")
        for shape in target_shapes:
            (out / f"recon-{shape}.yaml").write_text(
                config_yaml(full, TARGET_SHAPES[shape], graph=shape == "graph",
                            groups=shape == "groups"), encoding="utf-8")
    in_graph = Counter(expected)
    in_graph["drift"] -= unseen_in_graph
    in_graph["in_sync"] += unseen_in_graph
    summary = {"workers": n, "accounts": len(resources), "expressions": "full" if full else
               "basic", "expected": dict(sorted(expected.items())),
               "expected_graph": dict(sorted(in_graph.items()))}
    (out / "expected.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def _category(plan: str, full: bool) -> str:
    if plan in {"bad_email", "bad_date", "no_key", "duplicate_key"}:
        return "invalid"
    if plan == "leaver_done":
        return "in_sync"
    if plan == "intern":
        return "out_of_scope" if full else "joiner"
    return plan


def _drift(account: dict[str, Any], kind: int, stranger: str) -> None:
    """One or two real changes on the account (the HR row is the truth)."""
    if kind == 0:
        account["title"] = f"Former {account['title']}"
    elif kind == 1:
        account["department"], account["costCenter"] = "Reorganised Out", "CC-0000"
    elif kind == 2:
        account["familyName"] = str(account["familyName"]).upper()  # a case fix is an update
    elif kind == 3:
        account["manager"] = stranger
    elif kind == 4:
        account["title"] = None  # the attribute was never written
    elif kind == LOCALITY_DRIFT:
        account["locality"] = "Remote"
    else:
        account["displayName"] = f"{account['displayName']} (old)"
        account["title"] = account["title"] + " "  # trailing space alone is no drift


def _resource(a: dict[str, Any]) -> dict[str, Any]:
    """A SCIM User as a target returns it (RFC 7643 §8.2 shape, enterprise extension)."""
    user: dict[str, Any] = {"schemas": [CORE, ENTERPRISE], "id": a["id"]}
    if a["externalId"]:
        user["externalId"] = a["externalId"]
    user["userName"] = a["userName"]
    if a["givenName"] or a["familyName"]:
        user["name"] = {k: v for k, v in (("givenName", a["givenName"]),
                                           ("familyName", a["familyName"])) if v}
    user["displayName"] = a["displayName"]
    if a["title"]:
        user["title"] = a["title"]
    user["emails"] = [{"value": a["userName"], "type": "work", "primary": True}]
    if a["locality"]:
        user["addresses"] = [{"type": "work", "locality": a["locality"],
                              "country": a["country"], "primary": True}]
    user["active"] = a["active"]
    enterprise: dict[str, Any] = {}
    for name in ("employeeNumber", "department", "costCenter"):
        if a[name]:
            enterprise[name] = a[name]
    if a["employeeNumber"]:
        enterprise["organization"] = "Example Corporation"
    if a["manager"]:
        enterprise["manager"] = {"value": a["manager"]}
    if enterprise:
        user[ENTERPRISE] = enterprise
    user["meta"] = {"resourceType": "User", "version": f'W/"{a["id"][:8]}{a["id"][-8:]}"'}
    return user


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of workers")
    parser.add_argument("--out", type=Path, default=None, help="folder (default out/bench/N)")
    parser.add_argument("--expressions", choices=["basic", "full"], default="basic",
                        help="basic: [Column] and literals only; full: Entra functions")
    parser.add_argument("--snapshot-format", choices=["jsonl", "list"], default="jsonl")
    parser.add_argument("--shapes", default=None,
                        help="comma-separated shapes to write: " + ", ".join(
                            [*HR_SHAPES, *TARGET_SHAPES]) + " (each with recon-<shape>.yaml)")
    parser.add_argument("--charset", choices=["utf-8", "cp1252"], default="utf-8")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    out = args.out or Path("out/bench") / str(args.n)
    summary = generate(args.n, out, full=args.expressions == "full",
                       snapshot_format=args.snapshot_format, seed=args.seed,
                       shapes=args.shapes.split(",") if args.shapes else None,
                       charset=args.charset)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
