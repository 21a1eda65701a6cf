"""Generate recon's bundled sample pair: a Workday-style workers extract and a SCIM snapshot.

Deterministic (fixed seed, stdlib only): running it again rewrites byte-identical files.

    python data/samples/generate_samples.py

Writes, next to this script: ``workers.csv``, ``target_snapshot.json``,
``entra-inbound/empty_snapshot.json`` and the generated block of ``README.md`` (the table of
tricky rows and the expected count per category). The configs (``recon*.yaml``,
``entra-inbound.yaml``) are written by hand. ``check_samples.py`` recomputes every category
independently from the written files and the rules of DESIGN.md.

Every worker is built from the *intended* category; ordinary workers are ``in_sync`` and their
account is the exact image of their HR row through the mapping of ``recon.yaml``. Tricky rows
declare what they exercise, and their account (if any) is the image with a few overrides.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import random
import unicodedata
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = 20261115
AS_OF = date(2026, 11, 15)
PREHIRE_DAYS = 14
DOMAIN = "example.com"
SCIM_BASE = "https://scim.example.com/v2"
ID_NAMESPACE = uuid.UUID("6f1c1c64-3a52-4c1e-9d7e-2b5d3b0f2a10")
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
TOTAL_WORKERS = 300
DANGLING_MANAGER = "100099"  # a manager purged from the extract: no worker, no account

COLUMNS = [
    "Employee ID", "Worker Status", "Worker Type", "Legal First Name", "Preferred First Name",
    "Legal Last Name", "Work Email", "Business Title", "Supervisory Organization",
    "Manager Employee ID", "Hire Date", "Termination Date", "Location", "Country",
]

# country -> (locations, Workday country name)
COUNTRIES: dict[str, tuple[list[str], str]] = {
    "US": (["San Francisco, CA", "New York, NY", "Austin, TX"], "United States of America"),
    "MX": (["Mexico City"], "Mexico"),
    "ES": (["Madrid"], "Spain"),
    "DE": (["Berlin", "Munich"], "Germany"),
    "PL": (["Warsaw"], "Poland"),
    "DK": (["Copenhagen"], "Denmark"),
    "SE": (["Stockholm"], "Sweden"),
    "VN": (["Ho Chi Minh City"], "Viet Nam"),
    "CN": (["Shanghai"], "China"),
    "IE": (["Dublin"], "Ireland"),
    "FR": (["Paris"], "France"),
    "GB": (["London"], "United Kingdom"),
    "IN": (["Bengaluru"], "India"),
}
COUNTRY_WEIGHTS = {
    "US": 34, "MX": 6, "ES": 5, "DE": 8, "PL": 7, "DK": 4, "SE": 4, "VN": 5, "CN": 5,
    "IE": 6, "FR": 6, "GB": 6, "IN": 4,
}

FIRST_NAMES: dict[str, str] = {
    "US": "Emily Michael Sarah David Jessica James Ashley Christopher Amanda Daniel Megan "
          "Matthew Lauren Andrew Rachel Joshua Brittany Ryan Nicole Tyler Hannah Brandon",
    "MX": "José María Guadalupe Juan Alejandro Verónica Sofía Andrés Jesús Lucía Ramón",
    "ES": "Begoña Iñaki Álvaro Inés Raúl Nuria Sergio Lucía Óscar Marta",
    "DE": "Jürgen Jörg Günther Käthe Lukas Anna Felix Mareike Stefan Sönke Tobias",
    "PL": "Łukasz Małgorzata Paweł Żaneta Wojciech Agnieszka Michał Katarzyna Jędrzej Ewa",
    "DK": "Søren Mette Anders Frederik Sofie Rasmus Ida Jens Trine",
    "SE": "Åsa Björn Märta Erik Linnéa Göran Ingrid Oskar Astrid",
    "VN": "Thị Hương|Văn Minh|Thu Trang|Quốc Bảo|Minh Anh|Đức Thắng|Ngọc Lan|Hoàng Nam",
    "IE": "Seán Siobhán Aoife Niamh Cian Ciarán Róisín Darragh Orla Pádraig",
    "FR": "François Hélène Zoë Renée Amélie Jérôme Céline Benoît Maëlle Théo",
    "GB": "Emma Oliver Charlotte Harry Amelia George Isla Jack Poppy",
    "IN": "Priya Arjun Ananya Rohan Kavya Vikram Aditi Rahul Sneha",
}
LAST_NAMES: dict[str, str] = {
    "US": "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
          "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Walker Hall Young",
    "MX": "García Hernández Martínez López González Pérez Sánchez Ramírez Cruz Flores",
    "ES": "Núñez Peña Muñoz Ibáñez Fernández Gómez Díaz Álvarez Romero Castaño",
    "DE": "Müller Schröder Weiß Schäfer Köhler Becker Hoffmann Krüger Wagner Vogel",
    "PL": "Wójcik Kowalska Lewandowski Dąbrowska Zieliński Woźniak Kamiński Szymańska",
    "DK": "Jørgensen Kjær Nielsen Sørensen Østergaard Hansen Madsen Læssøe",
    "SE": "Ångström Öberg Lindqvist Sjögren Åberg Nyström Holmén Bäckström",
    "VN": "Nguyễn Trần Phạm Lê Hoàng Võ Đặng Bùi",
    "IE": "O'Brien O'Connor Ní Bhriain Kelly Ó Súilleabháin Byrne Walsh MacCarthy",
    "FR": "Côté Dubois Lefèvre Lambert Girard Mercier Bélanger Rousseau Lévesque",
    "GB": "Clarke Wright Hughes Evans Turner Wood Hill Cooper Ward",
    "IN": "Sharma Nair Iyer Reddy Patel Gupta Menon Rao",
}
# Chinese names: (given, family, pinyin given, pinyin family, preferred English name or "")
CHINESE = [
    ("伟", "王", "wei", "wang", "David"), ("秀英", "李", "xiuying", "li", ""),
    ("敏", "张", "min", "zhang", "Amy"), ("洋", "刘", "yang", "liu", ""),
    ("静", "陈", "jing", "chen", "Jenny"), ("磊", "杨", "lei", "yang", ""),
    ("婷", "赵", "ting", "zhao", ""), ("强", "黄", "qiang", "huang", "Kevin"),
    ("芳", "周", "fang", "zhou", ""), ("军", "吴", "jun", "wu", "Jason"),
]
PREFERRED = {"Christopher": "Chris", "Matthew": "Matt", "Michael": "Mike", "Andrew": "Drew",
             "Alejandro": "Alex", "Katarzyna": "Kasia", "Małgorzata": "Gosia",
             "Wojciech": "Wojtek", "Frederik": "Frede"}

ORGS: dict[str, list[str]] = {
    "Platform Engineering": ["Software Engineer", "Senior Software Engineer",
                             "Staff Software Engineer", "Site Reliability Engineer"],
    "Product Engineering": ["Software Engineer", "Senior Software Engineer", "QA Engineer",
                            "Frontend Engineer", "Mobile Engineer"],
    "Data & Analytics": ["Data Analyst", "Data Engineer", "Senior Data Scientist",
                         "Analytics Engineer"],
    "Security": ["Security Engineer", "Security Analyst", "Identity & Access Engineer"],
    "IT Operations": ["IT Support Specialist", "Systems Administrator", "IT Asset Coordinator"],
    "Finance & Accounting": ["Accountant", "Senior Accountant", "Financial Analyst",
                             "Payroll Specialist"],
    "People Operations": ["HR Business Partner", "Recruiter", "People Operations Specialist"],
    "Sales - North America": ["Account Executive", "Sales Development Representative",
                              "Sales Engineer"],
    "Sales - EMEA": ["Account Executive", "Sales Development Representative", "Sales Engineer"],
    "Sales - APAC": ["Account Executive", "Sales Development Representative", "Sales Engineer"],
    "Marketing": ["Product Marketing Manager", "Content Strategist",
                  "Marketing Operations Analyst", "Brand Designer"],
    "Customer Support": ["Support Engineer", "Customer Success Manager", "Support Specialist"],
    "Legal": ["Corporate Counsel", "Paralegal", "Privacy Counsel"],
}
HEAD_TITLES = {
    "Platform Engineering": "Director, Platform Engineering",
    "Product Engineering": "VP, Engineering",
    "Data & Analytics": "Head of Data",
    "Security": "Chief Information Security Officer",
    "IT Operations": "IT Director",
    "Finance & Accounting": "Chief Financial Officer",
    "People Operations": "Chief People Officer",
    "Sales - North America": "Regional Sales Director, North America",
    "Sales - EMEA": "Regional Sales Director, EMEA",
    "Sales - APAC": "Regional Sales Director, APAC",
    "Marketing": "VP, Marketing",
    "Customer Support": "Director, Customer Support",
    "Legal": "General Counsel",
}
HEADS = {  # hand-picked so that no random name can clash with them
    "Platform Engineering": ("Nathan", "Brooks", "US"),
    "Product Engineering": ("Henrik", "Dahl", "DK"),
    "Data & Analytics": ("Meera", "Krishnan", "IN"),
    "Security": ("Dominik", "Brenner", "DE"),
    "IT Operations": ("Patrick", "Doyle", "IE"),
    "Finance & Accounting": ("Claire", "Fontaine", "FR"),
    "People Operations": ("Gabriela", "Ortiz", "MX"),
    "Sales - North America": ("Marcus", "Bennett", "US"),
    "Sales - EMEA": ("Sophie", "Marshall", "GB"),
    "Sales - APAC": ("Minh Khoa", "Trần", "VN"),
    "Marketing": ("Elena", "Vidal", "ES"),
    "Customer Support": ("Magnus", "Ekström", "SE"),
    "Legal": ("Zofia", "Wiśniewska", "PL"),
}
SALES_REGION = {"US": "Sales - North America", "MX": "Sales - North America",
                "VN": "Sales - APAC", "CN": "Sales - APAC", "IN": "Sales - APAC"}


def fold_ascii(text: str) -> str:
    """The ASCII local-part spelling of a name: José → jose, Łukasz → lukasz, O'Brien → obrien."""
    table = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae",
                           "ß": "ss", "đ": "d", "Đ": "D", "'": "", " ": ""})
    decomposed = unicodedata.normalize("NFKD", text.translate(table))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def us_date(value: date) -> str:
    return value.strftime("%m/%d/%Y")


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@dataclass
class Worker:
    first: str
    last: str
    country: str
    preferred: str = ""
    status: str = "Active"
    wtype: str = "Employee"
    hire: date | str = date(2020, 1, 6)  # a str is written verbatim (for unparseable dates)
    term: date | None = None
    org: str = ""
    title: str = ""
    manager: Worker | str | None = "auto"  # "auto": the org head; str: a literal (dangling) id
    email_local: str = ""
    email_written: str | None = None  # the Work Email cell when it differs from the address
    location: str = ""
    expected: str = "in_sync"
    exercises: str = ""  # non-empty for tricky rows (listed in README.md)
    account: dict[str, Any] | None = field(default_factory=dict)  # None: no account
    emp_id: str | None = None
    fixed_id: str | None = None  # keep this id (legacy ids, duplicates, missing)
    write_nfd: bool = False  # HR cell written in NFD
    hr_row: int = 0

    @property
    def address(self) -> str:
        return f"{self.email_local}@{DOMAIN}"

    @property
    def given(self) -> str:
        return self.preferred or self.first


class Builder:
    def __init__(self) -> None:
        self.rng = random.Random(SEED)
        self.workers: list[Worker] = []
        self.used_locals: set[str] = set()
        self.used_names: set[tuple[str, str]] = set()
        self.heads: dict[str, Worker] = {}
        self.ceo: Worker | None = None

    # -- people --------------------------------------------------------------------------
    def local_part(self, first: str, last: str) -> str:
        base = f"{fold_ascii(first)}.{fold_ascii(last)}"
        candidate, n = base, 2
        while candidate in self.used_locals:
            candidate, n = f"{base}{n}", n + 1
        self.used_locals.add(candidate)
        return candidate

    def random_person(self, country: str | None = None) -> dict[str, Any]:
        rng = self.rng
        while True:
            code = country or rng.choices(list(COUNTRY_WEIGHTS), list(COUNTRY_WEIGHTS.values()))[0]
            if code == "CN":
                given, family, py_given, py_family, preferred = rng.choice(CHINESE)
                first, last = given, family
                local_first, local_last = preferred or py_given, py_family
            else:
                firsts = FIRST_NAMES[code]
                pool = firsts.split("|") if "|" in firsts else firsts.split()
                first = rng.choice(pool)
                lasts = LAST_NAMES[code]
                last_pool = (["O'Brien", "O'Connor", "Ní Bhriain", "Kelly", "Ó Súilleabháin",
                              "Byrne", "Walsh", "MacCarthy"] if code == "IE" else lasts.split())
                last = rng.choice(last_pool)
                preferred = PREFERRED.get(first, "") if rng.random() < 0.5 else ""
                local_first, local_last = preferred or first, last
            if (first, last) in self.used_names:
                continue
            self.used_names.add((first, last))
            return {"first": first, "last": last, "country": code, "preferred": preferred,
                    "email_local": self.local_part(local_first, local_last)}

    def org_for(self, country: str) -> str:
        if self.rng.random() < 0.22:
            return SALES_REGION.get(country, "Sales - EMEA")
        options = [o for o in ORGS if not o.startswith("Sales")]
        return self.rng.choice(options)

    def add(self, **spec: Any) -> Worker:
        """A worker: named fields win, the rest is drawn at random."""
        person = {}
        if "first" not in spec:
            person = self.random_person(spec.get("country"))
        else:
            if (spec["first"], spec["last"]) in self.used_names:
                raise ValueError(f"name used twice: {spec['first']} {spec['last']}")
            if "email_local" in spec:
                if spec["email_local"] in self.used_locals:
                    raise ValueError(f"address used twice: {spec['email_local']}")
                self.used_locals.add(spec["email_local"])
            spec.setdefault("email_local", self.local_part(
                spec.get("preferred") or spec["first"], spec["last"]))
            self.used_names.add((spec["first"], spec["last"]))
        values = {**person, **spec}
        worker = Worker(**values)
        rng = self.rng
        if not worker.org:
            worker.org = self.org_for(worker.country)
        if not worker.title:
            worker.title = rng.choice(ORGS.get(worker.org, ["Executive Assistant"]))
        if not worker.location:
            worker.location = rng.choice(COUNTRIES[worker.country][0])
        if worker.hire == date(2020, 1, 6) and "hire" not in spec:
            worker.hire = date(2013, 1, 7) + timedelta(days=rng.randrange(0, 4900))
            if isinstance(worker.hire, date) and worker.hire > date(2026, 9, 30):
                worker.hire = date(2026, 9, 28)
        self.workers.append(worker)
        return worker

    # -- the population ------------------------------------------------------------------
    def build(self) -> list[Worker]:
        self.ceo = self.add(first="Margaret", last="Whitfield", country="US",
                            preferred="Maggie", org="Executive Office",
                            title="Chief Executive Officer", manager=None,
                            hire=date(2012, 3, 5), location="San Francisco, CA",
                            exercises="top of the hierarchy: no manager (empty cell), "
                                      "preferred first name wins through Coalesce")
        for org, title in HEAD_TITLES.items():
            first, last, country = HEADS[org]
            self.heads[org] = self.add(first=first, last=last, country=country, org=org,
                                       title=title, manager=self.ceo,
                                       hire=date(2013, 1, 7)
                                       + timedelta(days=self.rng.randrange(0, 2200)))
        self.add_tricky()
        while len(self.workers) < TOTAL_WORKERS:
            contingent = self.rng.random() < 0.06
            self.add(wtype="Contingent Worker" if contingent else "Employee")
        self.assign_ids()
        for worker in self.workers:
            if worker.manager == "auto":
                head = self.heads.get(worker.org, self.ceo)
                worker.manager = self.ceo if head is worker else head
        return self.workers

    def add_tricky(self) -> None:
        add, heads = self.add, self.heads
        eng, data = heads["Platform Engineering"], heads["Data & Analytics"]

        # in_sync: cosmetic-only differences
        add(first="Zoë", last="Lambert", country="FR", email_written="Zoe.Lambert@Example.COM",
            exercises="Work Email in mixed case in HR; userName is lower-case")
        add(first="Łukasz", last="Wójcik", country="PL",
            account={"userName": "Lukasz.Wojcik@example.com",
                     "email_value": "Lukasz.Wojcik@Example.com"},
            exercises="snapshot userName and emails value in mixed case (not case-exact)")
        add(first="Søren", last="Kjær", country="DK", email_written="soren.kjaer@example.com  ",
            exercises="Work Email with trailing spaces in HR")
        add(first="Siobhán", last="O'Brien", country="IE",
            email_written="  Siobhan.OBrien@example.com",
            exercises="apostrophe in the name; Work Email with leading spaces and capitals")
        add(first="Hélène", last="Dubois", country="FR", org="Finance & Accounting",
            title="  Senior Accountant ", exercises="Business Title with surrounding spaces in HR")
        add(first="Anders", last="Nielsen", country="DK", org="IT Operations",
            title="Systems Administrator", account={"title": "Systems Administrator "},
            exercises="snapshot title with a trailing space")
        for first, last, country in [("José", "García", "MX"), ("Jürgen", "Müller", "DE"),
                                     ("Åsa", "Ångström", "SE"), ("Thị Hương", "Nguyễn", "VN"),
                                     ("Begoña", "Peña", "ES")]:
            add(first=first, last=last, country=country, account={"nfd": True},
                exercises="names stored in NFD in the snapshot, NFC in HR")
        add(first="Renée", last="Côté", country="FR", write_nfd=True,
            exercises="names written in NFD in the HR file, NFC in the snapshot")
        add(first="伟", last="王", country="CN", preferred="David", email_local="david.wang",
            exercises="CJK legal name with an English preferred name (givenName David)")
        add(first="秀英", last="李", country="CN", email_local="xiuying.li",
            exercises="CJK names, no preferred name: givenName falls through to 秀英")
        add(first="Robert", last="Kowalczyk", country="US", preferred="Bob",
            exercises="preferred first name (Bob) wins over legal first name (Robert)")
        for first, last in [("Ingrid", "Sjögren"), ("Pádraig", "Ó Súilleabháin")]:
            add(first=first, last=last, country="SE" if first == "Ingrid" else "IE",
                fixed_id=f"00{4518 + len(first)}", hire=date(2016, 4, 1),
                exercises="legacy Employee ID with leading zeros (kept as text)")
        for first, last, country in [("Mette", "Jørgensen", "DK"), ("Priya", "Sharma", "IN"),
                                     ("Jessica", "Moore", "US")]:
            add(first=first, last=last, country=country, status="Leave of Absence",
                exercises="Leave of Absence is an active status: account stays active")
        add(first="Oskar", last="Nyström", country="SE", status="Active", wtype="Contingent Worker",
            term=date(2026, 11, 15),
            exercises="Active, termination date = as-of: not strictly before, still active")
        add(first="Amelia", last="Hughes", country="GB", wtype="Contingent Worker",
            term=date(2026, 12, 31),
            exercises="contingent worker with a future contract end date: active")
        for first, last, country, left in [
            ("Cian", "Walsh", "IE", date(2025, 6, 30)), ("Linnéa", "Holmén", "SE",
                                                         date(2026, 3, 31)),
            ("Jérôme", "Mercier", "FR", date(2024, 12, 20)), ("Rahul", "Menon", "IN",
                                                             date(2026, 8, 14)),
            ("Ewa", "Szymańska", "PL", date(2025, 10, 3)),
        ]:
            add(first=first, last=last, country=country, status="Terminated", term=left,
                account={"active": False},
                exercises="terminated, account already disabled: in sync")
        add(first="Darragh", last="Byrne", country="IE", status="Active", term=date(2026, 10, 30),
            account={"active": False},
            exercises="status still Active but termination date before as-of (inactive); "
                      "account already disabled: in sync")

        # drift
        drift = {"expected": "drift"}
        add(**drift, first="Ryan", last="McDonald", country="US",
            account={"familyName": "mcdonald"},
            exercises='name case fix: snapshot "mcdonald", HR "McDonald" (case-sensitive)')
        add(**drift, first="Jean-Luc", last="Girard", country="FR",
            account={"givenName": "JEAN-LUC"},
            exercises='name case fix: snapshot "JEAN-LUC", HR "Jean-Luc"')
        add(**drift, first="Katherine", last="Evans", country="GB", preferred="Kate",
            account={"givenName": "Katherine"},
            exercises="preferred name added in HR (Kate): givenName changes")
        add(**drift, first="Agnieszka", last="Nowak", country="PL",
            account={"familyName": "Kamińska"},
            exercises="family name changed in HR (Kamińska → Nowak), same email")
        add(**drift, first="Anna", last="Becker", country="DE", email_local="anna.becker",
            account={"familyName": "Schmidt", "userName": "anna.schmidt@example.com",
                     "email_value": "anna.schmidt@example.com"},
            exercises="name change with a new Work Email: userName, emails and familyName "
                      "drift (matched by employeeNumber)")
        for first, last, country, old_title, new_title in [
            ("Tobias", "Vogel", "DE", "Software Engineer", "Senior Software Engineer"),
            ("Nicole", "Harris", "US", "Accountant", "Senior Accountant"),
            ("Rohan", "Iyer", "IN", "Data Analyst", "Data Engineer"),
        ]:
            org = {"Tobias": "Platform Engineering", "Nicole": "Finance & Accounting"}.get(
                first, "Data & Analytics")
            add(**drift, first=first, last=last, country=country, org=org, title=new_title,
                account={"title": old_title}, exercises=f"title change ({old_title} → "
                                                        f"{new_title})")
        add(**drift, first="Céline", last="Rousseau", country="FR", org="Marketing",
            account={"department": "Customer Support"},
            exercises="department move (Customer Support → Marketing)")
        add(**drift, first="Vikram", last="Reddy", country="IN", org="Security",
            account={"department": "IT Operations"},
            exercises="department move (IT Operations → Security)")
        add(**drift, first="Björn", last="Öberg", country="SE", org="Platform Engineering",
            account={"manager": data},
            exercises="manager change (snapshot: Head of Data; HR: Platform Engineering head)")
        add(**drift, first="Lauren", last="Thompson", country="US", org="Finance & Accounting",
            account={"manager": eng},
            exercises="manager change (snapshot: Platform Engineering head; HR: CFO)")
        add(**drift, first="Ida", last="Læssøe", country="DK", org="Legal",
            account={"manager": None},
            exercises="manager missing in the snapshot: manager drift")
        add(**drift, first="Jens", last="Østergaard", country="DK", org="Security",
            title="Identity & Access Engineer", manager=DANGLING_MANAGER,
            account={"title": "Security Analyst", "manager": heads["Security"]},
            exercises=f"title change, and Manager Employee ID {DANGLING_MANAGER} points to no "
                      "worker (dangling reference: reported, never written)")
        add(**drift, first="Maëlle", last="Bélanger", country="FR", org="Sales - EMEA",
            title="Sales Engineer",
            account={"title": "Support Engineer", "department": "Customer Support",
                     "manager": heads["Customer Support"]},
            exercises="internal transfer: title, department and manager all change")

        # link: the account has no employeeNumber/externalId, userName = email
        link = {"expected": "link", "account": {"employeeNumber": None, "externalId": None}}
        for first, last, country in [("Paweł", "Zieliński", "PL"), ("Aoife", "Kelly", "IE"),
                                     ("Sergio", "Romero", "ES")]:
            add(**link, first=first, last=last, country=country,
                exercises="account created by hand: no employeeNumber, matched by email")
        add(expected="link", first="Anna", last="Kowalska", country="PL",
            account={"employeeNumber": None, "externalId": None,
                     "userName": "Anna.Kowalska@example.com"},
            exercises="matched by email although the snapshot userName has capitals")
        add(expected="link", first="Hannah", last="Wilson", country="US", org="Marketing",
            title="Content Strategist",
            account={"employeeNumber": None, "externalId": None, "title": "Marketing Intern"},
            exercises="link plus drift: title differs (category stays link)")

        # joiners: active, no account, hired on or before as-of + 14 days
        join = {"expected": "joiner", "account": None}
        add(**join, first="Văn An", last="Nguyễn", country="VN", hire=date(2026, 11, 16),
            exercises="joiner starting tomorrow; Vietnamese name")
        add(**join, first="Małgorzata", last="Dąbrowska", country="PL", preferred="Gosia",
            hire=date(2026, 11, 23), exercises="joiner with a preferred name")
        add(**join, first="Emily", last="O'Connor", country="US", hire=date(2026, 11, 29),
            exercises="hire date = as-of + 14 days exactly: inside the pre-hire window")
        add(**join, first="Michael", last="Chen", country="US", hire=date(2026, 10, 19),
            exercises="hired a month ago and never provisioned (missed joiner)")
        add(**join, first="Théo", last="Lévesque", country="FR", wtype="Contingent Worker",
            hire=date(2026, 11, 17), exercises="contingent worker joiner")
        add(**join, first="Ananya", last="Patel", country="IN", hire=date(2026, 11, 20),
            manager=DANGLING_MANAGER,
            exercises=f"joiner whose manager {DANGLING_MANAGER} is no worker (dangling)")
        lead = add(**join, first="Felix", last="Hoffmann", country="DE", hire=date(2026, 11, 16),
                   org="Data & Analytics", title="Analytics Engineering Manager",
                   exercises="new team lead, manager of the next joiner")
        add(**join, first="Sönke", last="Krüger", country="DE", hire=date(2026, 11, 24),
            org="Data & Analytics", manager=lead,
            exercises="joiner whose manager is also a joiner (no account yet to reference)")
        add(**join, first="Inés", last="Muñoz", country="ES", status="Leave of Absence",
            hire=date(2026, 9, 1),
            exercises="hired in September, on leave since: active, no account yet")

        # future hires: hire date later than as-of + 14 days
        future = {"expected": "future_hire", "account": None}
        add(**future, first="Sofie", last="Madsen", country="DK", hire=date(2026, 11, 30),
            exercises="hire date = as-of + 15 days: just outside the pre-hire window")
        add(**future, first="Arjun", last="Nair", country="IN", hire=date(2026, 12, 7),
            exercises="future hire in December")
        add(**future, first="Astrid", last="Bäckström", country="SE", hire=date(2027, 1, 4),
            exercises="future hire next year")
        add(**future, first="Tyler", last="Young", country="US", wtype="Contingent Worker",
            hire=date(2026, 12, 14), exercises="contingent future hire")
        add(**future, first="Linh", last="Bùi", country="VN", hire=date(2027, 2, 1),
            preferred="", exercises="future hire in February; Vietnamese name")

        # leavers: inactive, account still active
        leave = {"expected": "leaver"}
        leaver_people = [("Brandon", "Clark", "US"), ("Verónica", "Ramírez", "MX"),
                         ("Stefan", "Wagner", "DE"), ("Kavya", "Rao", "IN"),
                         ("Göran", "Åberg", "SE"), ("Niamh", "MacCarthy", "IE"),
                         ("Amélie", "Girard", "FR"), ("Oliver", "Cooper", "GB"),
                         ("Jędrzej", "Woźniak", "PL"), ("Thu Trang", "Phạm", "VN")]
        for i, (first, last, country) in enumerate(leaver_people):
            add(**leave, first=first, last=last, country=country, status="Terminated",
                term=date(2026, 10, 2) + timedelta(days=4 * i),
                exercises="terminated this autumn, account still active")
        for first, last, country in [("Ramón", "Cruz", "MX"), ("Trine", "Hansen", "DK")]:
            add(**leave, first=first, last=last, country=country, wtype="Contingent Worker",
                status="Terminated", term=date(2026, 10, 31),
                exercises="contingent worker whose contract ended, account still active")
        add(**leave, first="Jack", last="Ward", country="GB", status="Active",
            term=date(2026, 11, 13),
            exercises="status still Active but termination date before as-of: leaver")
        add(**leave, first="Megan", last="Walker", country="US", status="Leave of Absence",
            term=date(2026, 11, 6),
            exercises="Leave of Absence but termination date before as-of: leaver")
        add(**leave, first="Iñaki", last="Ibáñez", country="ES", status="Terminated",
            term=date(2026, 11, 14), account={"title": "Sales Engineer"},
            org="Sales - EMEA", title="Account Executive",
            exercises="terminated yesterday; title also differs (category stays leaver)")

        # rehires: active, account disabled
        rehire = {"expected": "rehire"}
        add(**rehire, first="Guadalupe", last="Flores", country="MX", hire=date(2026, 11, 2),
            account={"active": False, "created": date(2019, 5, 6)},
            exercises="rehired this month, account disabled since the first employment")
        add(**rehire, first="Erik", last="Lindqvist", country="SE", hire=date(2026, 10, 12),
            account={"active": False, "created": date(2020, 2, 3)},
            exercises="rehire, no other change")
        add(**rehire, first="Sarah", last="Jackson", country="US", hire=date(2026, 11, 9),
            org="Product Engineering", title="Senior Software Engineer",
            account={"active": False, "title": "Software Engineer", "created": date(2021, 1, 11)},
            exercises="rehire with drift: new title")
        add(**rehire, first="Orla", last="Kelly", country="IE", hire=date(2026, 11, 2),
            org="Customer Support",
            account={"active": False, "department": "Marketing",
                     "manager": heads["Marketing"], "created": date(2019, 9, 2)},
            exercises="rehire with drift: new department and manager")
        add(**rehire, first="Thomas", last="Lee", country="US", status="Leave of Absence",
            account={"active": False},
            exercises="on Leave of Absence (active) but account disabled by hand: enable")

        # departed: inactive, no account
        gone = {"expected": "departed", "account": None}
        for i, (first, last, country) in enumerate([
            ("Harry", "Turner", "GB"), ("Sneha", "Gupta", "IN"), ("Benoît", "Lambert", "FR"),
            ("Juan", "Hernández", "MX"), ("Käthe", "Schäfer", "DE"), ("Rasmus", "Sørensen", "DK"),
        ]):
            add(**gone, first=first, last=last, country=country, status="Terminated",
                term=date(2024, 3, 29) + timedelta(days=97 * i),
                exercises="terminated, account already deleted")
        add(**gone, first="Isla", last="Wood", country="GB", status="Active",
            term=date(2026, 9, 30),
            exercises="status Active but termination date before as-of, no account")

        # out of scope: interns (accounts, if any, are left alone)
        intern = {"expected": "out_of_scope", "wtype": "Intern",
                  "title": "Software Engineering Intern", "org": "Product Engineering"}
        add(**intern, first="Lucía", last="Sánchez", country="MX", hire=date(2026, 6, 1),
            exercises="intern with an account (matched, left alone)")
        add(**intern, first="Maria", last="Schmidt", country="DE", hire=date(2026, 6, 15),
            preferred="", exercises="intern with an account (matched, left alone)")
        add(**intern, first="Poppy", last="Hill", country="GB", hire=date(2026, 6, 1),
            status="Terminated", term=date(2026, 8, 28),
            exercises="terminated intern whose account is still active: left alone, "
                      "not a leaver")
        add(**intern, first="Quốc Bảo", last="Võ", country="VN", hire=date(2026, 7, 6),
            account={"title": "Intern"},
            exercises="intern whose account title differs: left alone, not drift")
        add(**intern, first="Minh Anh", last="Đặng", country="VN", hire=date(2026, 11, 16),
            account=None, exercises="intern joining tomorrow: out of scope, not a joiner")
        add(**intern, first="Aditi", last="Menon", country="IN", hire=date(2027, 1, 11),
            account=None, exercises="intern hired in January: out of scope, not a future hire")
        add(**intern, first="Jack", last="Evans", country="GB", hire=date(2025, 6, 2),
            status="Terminated", term=date(2025, 8, 29), account=None,
            exercises="former intern, no account")

        # conflicts
        self.conflict_employee_number = add(
            expected="conflict", first="Katarzyna", preferred="Kasia", last="Lewandowska",
            country="PL",
            account="two-by-employee-number",
            exercises="two accounts carry her employeeNumber (the old one from her maiden "
                      "name): ambiguous, nothing is changed")
        self.conflict_email = add(
            expected="conflict", first="Tomás", last="Novák", country="ES",
            account="two-by-email",
            exercises="no account by employeeNumber; two accounts whose userName is his email "
                      "(one with a trailing space): ambiguous")

        # invalid rows (quarantined by data quality); none of them has an account
        bad = {"expected": "invalid", "account": None}
        add(**bad, first="Daniel", last="Martin", country="US", fixed_id="",
            exercises="missing Employee ID")
        twin = add(**bad, first="Mareike", last="Köhler", country="DE", hire=date(2025, 2, 3),
                   exercises="duplicated Employee ID (two different people share it)")
        self.twin_of = add(**bad, first="Rachel", last="Lee", country="US",
                           hire=date(2025, 2, 3), exercises="duplicated Employee ID (second row)")
        self.twin = twin
        add(**bad, first="Marta", last="Ruiz", country="ES", email_written="marta.ruiz.example.com",
            exercises="malformed Work Email (no @)")
        add(**bad, first="Oliver", last="Wright", country="GB", hire="31/02/2026",
            exercises='unparseable Hire Date "31/02/2026" (day-first, and no 31 February)')
        add(**bad, first="Amanda", last="Davis", country="US", status="",
            exercises="empty Worker Status")

    def assign_ids(self) -> None:
        def hire_key(worker: Worker) -> tuple[date, str]:
            hired = worker.hire if isinstance(worker.hire, date) else date(2026, 2, 1)
            return hired, worker.email_local

        employee_id = 100100
        contingent_id = 20000
        for worker in sorted(self.workers, key=hire_key):
            if worker.fixed_id is not None:
                worker.emp_id = worker.fixed_id or None
            elif worker.wtype == "Contingent Worker":
                contingent_id += self.rng.randrange(1, 6)
                worker.emp_id = f"CW{contingent_id}"
            else:
                employee_id += self.rng.randrange(1, 8)
                worker.emp_id = str(employee_id)
        self.twin_of.emp_id = self.twin.emp_id


# -- outputs ------------------------------------------------------------------------------
def hr_record(worker: Worker) -> dict[str, str]:
    manager = worker.manager
    manager_id = manager.emp_id if isinstance(manager, Worker) else (manager or "")
    hire = worker.hire if isinstance(worker.hire, str) else us_date(worker.hire)
    first, last, preferred = worker.first, worker.last, worker.preferred
    if worker.write_nfd:
        first, last = nfd(first), nfd(last)
    return {
        "Employee ID": worker.emp_id or "",
        "Worker Status": worker.status,
        "Worker Type": worker.wtype,
        "Legal First Name": first,
        "Preferred First Name": preferred,
        "Legal Last Name": last,
        "Work Email": worker.email_written if worker.email_written is not None
        else worker.address,
        "Business Title": worker.title,
        "Supervisory Organization": worker.org,
        "Manager Employee ID": manager_id or "",
        "Hire Date": hire,
        "Termination Date": us_date(worker.term) if worker.term else "",
        "Location": worker.location,
        "Country": COUNTRIES[worker.country][1],
    }


def order_rows(workers: list[Worker]) -> list[Worker]:
    """Sorted by Employee ID like a Workday report; the row without an ID sits mid-file."""
    with_id = sorted((w for w in workers if w.emp_id), key=lambda w: (w.emp_id or "", w.last))
    without = [w for w in workers if not w.emp_id]
    rows = with_id[:137] + without + with_id[137:]
    for number, worker in enumerate(rows, start=1):
        worker.hr_row = number
    return rows


def write_workers(rows: list[Worker], path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for worker in rows:
        writer.writerow(hr_record(worker))
    # Workday's CSV export: UTF-8 with a byte-order mark, CRLF line ends.
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def scim_id(label: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, label))


def timestamp(day: date, rng: random.Random) -> str:
    moment = datetime(day.year, day.month, day.day, 8, 0, 0) + timedelta(
        minutes=rng.randrange(0, 600), seconds=rng.randrange(0, 60))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user_resource(
    *, label: str, user_name: str, given: str, family: str, title: str | None,
    email: str | None, active: bool, employee_number: str | None, external_id: str | None,
    department: str | None, manager: tuple[str, str] | None, created: date,
    modified: date, rng: random.Random, nfd_names: bool = False,
) -> dict[str, Any]:
    identifier = scim_id(label)
    if nfd_names:
        given, family = nfd(given), nfd(family)
    resource: dict[str, Any] = {"schemas": [CORE, ENTERPRISE], "id": identifier}
    if external_id:
        resource["externalId"] = external_id
    resource["userName"] = user_name
    resource["name"] = {"formatted": f"{given} {family}", "familyName": family,
                        "givenName": given}
    resource["displayName"] = f"{given} {family}"
    if title:
        resource["title"] = title
    if email:
        resource["emails"] = [{"value": email, "type": "work", "primary": True}]
    resource["active"] = active
    enterprise: dict[str, Any] = {}
    if employee_number:
        enterprise["employeeNumber"] = employee_number
    if department:
        enterprise["department"] = department
    if manager:
        enterprise["manager"] = {"value": manager[0], "$ref": f"{SCIM_BASE}/Users/{manager[0]}",
                                 "displayName": manager[1]}
    resource[ENTERPRISE] = enterprise
    created_at = timestamp(created, rng)
    modified_at = max(created_at, timestamp(modified, rng))
    resource["meta"] = {"resourceType": "User", "created": created_at,
                        "lastModified": modified_at, "location": f"{SCIM_BASE}/Users/{identifier}"}
    body = json.dumps(resource, sort_keys=True, ensure_ascii=False).encode("utf-8")
    resource["meta"]["version"] = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
    return resource


GO_LIVE = date(2019, 3, 4)  # the target application went live: no account was created before


def build_snapshot(workers: list[Worker], builder: Builder) -> list[dict[str, Any]]:
    rng = random.Random(SEED + 1)
    by_worker: dict[int, str] = {}
    for worker in workers:
        if isinstance(worker.account, dict) and worker.emp_id:
            by_worker[id(worker)] = scim_id(f"worker:{worker.emp_id}")

    def manager_ref(manager: Any) -> tuple[str, str] | None:
        if isinstance(manager, Worker) and id(manager) in by_worker:
            return by_worker[id(manager)], f"{manager.given} {manager.last}"
        return None

    resources = []
    for worker in workers:
        account = worker.account
        if not isinstance(account, dict):
            continue
        hired = worker.hire if isinstance(worker.hire, date) else AS_OF
        created = account.get("created", max(hired - timedelta(days=rng.randrange(1, 6)),
                                             GO_LIVE + timedelta(days=rng.randrange(0, 30))))
        active = account.get("active", True)
        modified = created + timedelta(days=rng.randrange(0, max(1, (AS_OF - created).days)))
        if not active and worker.term:
            modified = max(modified, worker.term + timedelta(days=1))
        modified = min(modified, AS_OF - timedelta(days=1))
        user_name = account.get("userName", worker.address.lower())
        resources.append(user_resource(
            label=f"worker:{worker.emp_id}",
            user_name=user_name,
            given=account.get("givenName", worker.given),
            family=account.get("familyName", worker.last),
            title=account.get("title", worker.title.strip()),
            email=account.get("email_value", user_name),
            active=active,
            employee_number=account.get("employeeNumber", worker.emp_id),
            external_id=account.get("externalId", worker.emp_id),
            department=account.get("department", worker.org),
            manager=manager_ref(account.get("manager", worker.manager)),
            created=created, modified=modified, rng=rng,
            nfd_names=account.get("nfd", False),
        ))
    resources.extend(special_accounts(builder, manager_ref, rng))
    resources.sort(key=lambda r: (r["meta"]["created"], r["id"]))
    return resources


def special_accounts(builder: Builder, manager_ref: Any,
                     rng: random.Random) -> list[dict[str, Any]]:
    """Accounts that are not the image of one HR row: conflicts, orphans, service accounts."""
    kasia = builder.conflict_employee_number
    tomas = builder.conflict_email
    common = {"rng": rng, "modified": date(2026, 6, 1)}
    accounts = [
        user_resource(label="conflict:kasia-current", user_name=kasia.address, given="Kasia",
                      family="Lewandowska", title=kasia.title, email=kasia.address, active=True,
                      employee_number=kasia.emp_id, external_id=kasia.emp_id,
                      department=kasia.org, manager=manager_ref(kasia.manager),
                      created=date(2023, 9, 4), **common),
        user_resource(label="conflict:kasia-maiden", user_name="katarzyna.mazur@example.com",
                      given="Katarzyna", family="Mazur", title=kasia.title,
                      email="katarzyna.mazur@example.com", active=True,
                      employee_number=kasia.emp_id, external_id=None, department=kasia.org,
                      manager=manager_ref(kasia.manager), created=date(2020, 1, 13), **common),
        user_resource(label="conflict:tomas-sso", user_name=tomas.address, given="Tomás",
                      family="Novák", title=tomas.title, email=tomas.address, active=True,
                      employee_number=None, external_id=None, department=tomas.org,
                      manager=None, created=date(2024, 2, 19), **common),
        user_resource(label="conflict:tomas-import", user_name=tomas.address + " ",
                      given="Tomas", family="Novak", title=None, email=None, active=True,
                      employee_number=None, external_id=None, department=None,
                      manager=None, created=date(2024, 3, 1), **common),
    ]
    orphans = [  # (label, userName, given, family, title, employeeNumber, active)
        ("orphan:former-1", "gregory.hale@example.com", "Gregory", "Hale",
         "Account Executive", "100031", True),
        ("orphan:former-2", "fatima.haddad@example.com", "Fatima", "Haddad",
         "Recruiter", "100047", True),
        ("orphan:former-3", "ole.brandt@example.com", "Ole", "Brandt",
         "Support Engineer", "100063", False),
        ("orphan:contractor", "ext.dana.price@example.com", "Dana", "Price",
         "Consultant", None, True),
        ("orphan:test", "test.user01@example.com", "Test", "User", None, None, True),
        ("orphan:it-admin", "it-admin@example.com", "IT", "Administrator", None, None, True),
        ("orphan:training", "training.room@example.com", "Training", "Room", None, None, False),
        ("orphan:typo", "jonh.smith@example.com", "Jonh", "Smith", "Sales Engineer", None,
         True),
    ]
    for label, user_name, given, family, title, number, active in orphans:
        accounts.append(user_resource(
            label=label, user_name=user_name, given=given, family=family, title=title,
            email=user_name, active=active, employee_number=number, external_id=number,
            department=None, manager=None, created=date(2019, 3, 4) + timedelta(
                days=rng.randrange(0, 1500)), **common))
    for label, user_name, given in [("svc:backup", "svc-backup@example.com", "Backup"),
                                    ("svc:scanner", "svc-scanner@example.com", "Scanner"),
                                    ("svc:break-glass", "svc-break-glass@example.com",
                                     "Break-Glass")]:
        accounts.append(user_resource(
            label=label, user_name=user_name, given=given, family="Service", title=None,
            email=None, active=True, employee_number=None, external_id=None,
            department="IT Operations", manager=None, created=GO_LIVE, **common))
    return accounts


# -- groups ---------------------------------------------------------------------------------
# The target's groups as an earlier provisioning left them: one "dept-<department>" group per
# department the *accounts* carry, and "all-employees" with every active employee account. So
# HR's moves, leavers and joiners show up as membership changes next to the user changes.
MISSING_DEPARTMENTS = ("Legal",)  # no group yet: recon creates it
STALE_GROUP = "dept-Facilities"   # a department that no longer exists (managed, no rule derives it)
UNMANAGED_GROUP = "vpn-users"     # not matched by `groups.managed`: left alone
VPN_MEMBERS = ("brandon.clark@example.com", "nicole.harris@example.com",
               "gregory.hale@example.com")
RULES = [("dept-", "Supervisory Organization"), ("all-employees", None)]


def group_resource(name: str, members: list[dict[str, Any]]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [CORE_GROUP], "id": scim_id(f"group:{name}"), "displayName": name,
        "members": [{"value": m["id"], "$ref": f"{SCIM_BASE}/Users/{m['id']}",
                     "display": m["displayName"], "type": "User"}
                    for m in sorted(members, key=lambda m: m["id"])],
        "meta": {"resourceType": "Group", "created": "2019-03-04T09:00:00Z",
                 "lastModified": "2026-11-01T09:00:00Z",
                 "location": f"{SCIM_BASE}/Groups/{scim_id(f'group:{name}')}"}}
    body = json.dumps(resource, sort_keys=True, ensure_ascii=False).encode("utf-8")
    resource["meta"]["version"] = f'W/"{hashlib.sha256(body).hexdigest()[:16]}"'
    return resource


def build_groups(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    active = [r for r in resources if r["active"] and not r["userName"].startswith("svc-")
              or r["userName"] == "svc-backup@example.com"]
    departments = sorted({str(r[ENTERPRISE].get("department")) for r in resources
                          if r[ENTERPRISE].get("department")})
    groups = [group_resource(f"dept-{d}", [r for r in active
                                           if r[ENTERPRISE].get("department") == d])
              for d in departments if d not in MISSING_DEPARTMENTS]
    employees = [r for r in active if r[ENTERPRISE].get("employeeNumber")
                 or r.get("externalId")]
    groups.append(group_resource("all-employees", employees))
    groups.append(group_resource(STALE_GROUP, [r for r in resources
                                               if r["userName"] == "fatima.haddad@example.com"]))
    groups.append(group_resource(UNMANAGED_GROUP, [r for r in resources
                                                   if r["userName"] in VPN_MEMBERS]))
    return sorted(groups, key=lambda g: g["displayName"])


def is_active(worker: Worker) -> bool:
    status_active = worker.status in {"Active", "Leave of Absence"}
    return status_active and not (worker.term is not None and worker.term < AS_OF)


def group_expectations(rows: list[Worker], resources: list[dict[str, Any]],
                       groups: list[dict[str, Any]]) -> list[tuple[str, str, int, int]]:
    """(group, category, members to add, members to remove), from the rules of README.md."""
    account_of = {scim_id(f"worker:{w.emp_id}"): w for w in rows
                  if isinstance(w.account, dict) and w.emp_id}
    by_id = {r["id"]: r for r in resources}
    eligible = [w for w in rows if is_active(w)
                and w.expected in {"in_sync", "drift", "link", "rehire", "joiner"}]
    desired: dict[str, set[int]] = {"all-employees": {id(w) for w in eligible}}
    for worker in eligible:
        desired.setdefault(f"dept-{worker.org}", set()).add(id(worker))
    left_alone = {"out_of_scope", "conflict"}
    result = []
    current = {g["displayName"]: g for g in groups}
    for name in sorted(set(desired) | set(current)):
        if not (name.startswith("dept-") or name == "all-employees"):
            result.append((name, "unmanaged", 0, 0))
            continue
        wanted = desired.get(name, set())
        present: set[int] = set()
        removes = 0
        for member in (current.get(name) or {}).get("members", []):
            worker = account_of.get(member["value"])
            user_name = by_id[member["value"]]["userName"]
            if worker is not None and id(worker) in wanted:
                present.add(id(worker))
            elif user_name.startswith("svc-") or (
                    worker is not None and worker.expected in left_alone) or (
                    worker is None and user_name in CONFLICT_USER_NAMES):
                continue
            else:
                removes += 1
        adds = len(wanted - present)
        category = ("group_missing" if name not in current else
                    "group_extra" if name not in desired else
                    "group_drift" if adds or removes else "group_in_sync")
        result.append((name, category, adds, removes))
    return result


CONFLICT_USER_NAMES = {"kasia.lewandowska@example.com", "katarzyna.mazur@example.com",
                       "tomas.novak@example.com", "tomas.novak@example.com "}


def write_snapshot(resources: list[dict[str, Any]], path: Path,
                   groups: list[dict[str, Any]] | None = None) -> None:
    body = {"schemas": [LIST_RESPONSE], "totalResults": len(resources), "startIndex": 1,
            "itemsPerPage": len(resources), "Resources": resources}
    if groups is not None:
        body["groups"] = groups  # recon reads them next to the users (recon.snapshot/1 style)
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_empty_snapshot(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"schemas": [LIST_RESPONSE], "totalResults": 0, "startIndex": 1,
            "itemsPerPage": 0, "Resources": []}
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")


# -- README block ---------------------------------------------------------------------------
BEGIN, END = "<!-- BEGIN GENERATED by generate_samples.py -->", "<!-- END GENERATED -->"
ACCOUNT_NOTES = [
    ("katarzyna.mazur@example.com", "conflict", "second account with Kasia Lewandowska's "
     "employeeNumber (maiden name)"),
    ("kasia.lewandowska@example.com", "conflict", "first account with her employeeNumber"),
    ("tomas.novak@example.com", "conflict", "userName = Tomás Novák's email, no employeeNumber"),
    ('"tomas.novak@example.com " (trailing space)', "conflict",
     "same userName once trimmed (a sloppy import); scim2-server accepts it as distinct"),
    ("gregory.hale@, fatima.haddad@", "orphan", "former employees purged from HR, "
     "employeeNumber 100031/100047 matches no worker, account active"),
    ("ole.brandt@", "orphan", "former employee, account already disabled (still an orphan)"),
    ("ext.dana.price@, test.user01@, it-admin@, training.room@, jonh.smith@", "orphan",
     "no employeeNumber and no worker's email (jonh = typo of a name); it-admin@ is not "
     "excluded: the rule is a svc- prefix"),
    ("svc-backup@, svc-scanner@, svc-break-glass@", "excluded",
     "service and break-glass accounts, excluded by `Left([userName], 4) = \"svc-\"`"),
]


def readme_block(rows: list[Worker], resources: list[dict[str, Any]],
                 groups: list[dict[str, Any]] | None = None) -> str:
    hr_counts = Counter(w.expected for w in rows)
    account_counts = Counter({"conflict": 4, "orphan": 8, "excluded": 3})
    order = ["in_sync", "drift", "link", "joiner", "future_hire", "leaver", "rehire",
             "departed", "out_of_scope", "conflict", "invalid"]
    lines = [BEGIN, "",
             f"`workers.csv`: {len(rows)} data rows. `target_snapshot.json`: {len(resources)} "
             "accounts. As-of 2026-11-15, pre-hire window 14 days (joiners up to 11/29/2026).",
             "", "### Expected counts for `recon.yaml`", "",
             "| category | HR rows | account rows | identities rows |", "|---|---:|---:|---:|"]
    for category in [*order, "orphan", "excluded"]:
        hr, acc = hr_counts.get(category, 0), account_counts.get(category, 0)
        lines.append(f"| `{category}` | {hr} | {acc} | {hr + acc} |")
    total_acc = sum(account_counts.values())
    lines.append(f"| **total** | **{len(rows)}** | **{total_acc}** | **{len(rows) + total_acc}** |")
    matched = sum(1 for w in rows if isinstance(w.account, dict))
    lines += ["", f"{matched} accounts are paired 1:1 with an HR row (they carry that row's "
              "`target_id`, including the interns' accounts), "
              f"{total_acc} accounts have a row of their own: {matched} + {total_acc} = "
              f"{matched + total_acc} accounts.", "",
              "### Tricky HR rows", "",
              "`hr_row` is the 1-based data row (the header is not counted). Every row not "
              "listed is an ordinary `in_sync` worker whose account is the exact image of the "
              "row through the mapping (about a sixth of them with a capitalised Work Email).",
              "", "| hr_row | Employee ID | name | exercises | expected |",
              "|---:|---|---|---|---|"]
    for worker in rows:
        if not worker.exercises:
            continue
        name = f"{worker.given} {worker.last}".replace("|", "\\|")
        lines.append(f"| {worker.hr_row} | {worker.emp_id or '(empty)'} | {name} | "
                     f"{worker.exercises} | `{worker.expected}` |")
    lines += ["", "### Tricky target accounts (rows of their own)", "",
              "| userName | expected | exercises |", "|---|---|---|"]
    for user_name, category, note in ACCOUNT_NOTES:
        lines.append(f"| {user_name} | `{category}` | {note} |")
    if groups is not None:
        lines += ["", "### Expected groups for `recon.yaml`", "",
                  f"`target_snapshot.json` also holds {len(groups)} groups (key `groups`). "
                  "Members to add count joiners (added right after the push creates them); "
                  "members to remove count leavers, movers' old departments and former "
                  "employees. Service accounts, interns (out of scope) and accounts in a "
                  "match conflict stay where they are.", "",
                  "| group | expected | members to add | members to remove |",
                  "|---|---|---:|---:|"]
        for name, category, adds, removes in group_expectations(rows, resources, groups):
            lines.append(f"| {name} | `{category}` | {adds} | {removes} |")
    lines += ["", END]
    return "\n".join(lines)


def write_readme_block(block: str, path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else f"{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(head + block + tail, encoding="utf-8")


def main() -> None:
    builder = Builder()
    workers = builder.build()
    # A sixth of the ordinary rows carry a capitalised Work Email, as typed into Workday.
    capitalise = random.Random(SEED + 2)
    for worker in workers:
        if not worker.exercises and worker.email_written is None and capitalise.random() < 0.17:
            first, _, rest = worker.address.partition(".")
            worker.email_written = first.capitalize() + "." + rest.capitalize()
    rows = order_rows(workers)
    write_workers(rows, HERE / "workers.csv")
    resources = build_snapshot(rows, builder)
    groups = build_groups(resources)
    write_snapshot(resources, HERE / "target_snapshot.json", groups)
    write_empty_snapshot(HERE / "entra-inbound" / "empty_snapshot.json")
    write_readme_block(readme_block(rows, resources, groups), HERE / "README.md")
    counts = Counter(w.expected for w in rows)
    print(f"{len(rows)} workers, {len(resources)} accounts; expected {dict(counts)}")


if __name__ == "__main__":
    main()
