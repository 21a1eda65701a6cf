"""The file shapes users bring, written from one generated workforce (see generate.py).

HR extracts:

- ``csv``: plain UTF-8 CSV, LF line ends, quotes only where needed (``workers.csv``);
- ``workday``: as a Workday report downloads: a byte order mark, CRLF line ends, every field
  quoted, US dates (``workers-workday.csv``);
- ``cp1252``: a Windows-1252 CSV, as Excel's "CSV" saves one on a Western Windows machine
  (``workers-cp1252.csv``; its workforce's names are those cp1252 can spell);
- ``xlsx``: a workbook as Excel saves it — shared strings, dates as date serials with a date
  format, a banner row and a blank row above the header (``workers.xlsx``).

Target snapshots:

- ``jsonl``: JSON lines, one SCIM user a line (``snapshot.jsonl``);
- ``list``: one SCIM ListResponse document (``snapshot-list.json``), as one ``GET /Users``;
- ``pages``: ListResponse pages of 1,000 users, one page per line (concatenated documents), as
  a paging loop appending each response saves them (``snapshot-pages.json``);
- ``graph``: a Microsoft Graph ``/users`` export: a JSON array of pages of 999 Graph users,
  each with ``@odata.context`` and all but the last with ``@odata.nextLink``
  (``graph-users.json``);
- ``groups``: what ``recon snapshot --out x.json`` writes for a target with groups: a
  ``recon.snapshot/1`` document (indented) holding users and one group per department
  (``snapshot-groups.json``), reconciled with a ``groups:`` config.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from xml.sax.saxutils import escape

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
GRAPH_CONTEXT = ("https://graph.microsoft.com/v1.0/$metadata#users(id,userPrincipalName,"
                 "employeeId,accountEnabled,displayName,givenName,surname,jobTitle,mail,"
                 "department,companyName,employeeOrgData,employeeType,manager())")
SCIM_PAGE = 1000
GRAPH_PAGE = 999

HR_SHAPES = {"csv": "workers.csv", "workday": "workers-workday.csv",
             "cp1252": "workers-cp1252.csv", "xlsx": "workers.xlsx"}
TARGET_SHAPES = {"jsonl": "snapshot.jsonl", "list": "snapshot-list.json",
                 "pages": "snapshot-pages.json", "graph": "graph-users.json",
                 "groups": "snapshot-groups.json"}


class HrWriters:
    """Every requested HR shape, written row by row as the generator draws them."""

    def __init__(self, out: Path, shapes: Iterable[str], columns: list[str],
                 date_columns: set[str]) -> None:
        self.handles: list[TextIO] = []
        self.writers: list[Any] = []
        self.columns = columns
        for shape in shapes:
            if shape == "xlsx":
                continue
            path = out / HR_SHAPES[shape]
            if shape == "csv":
                handle = path.open("w", encoding="utf-8", newline="")
                writer = csv.writer(handle)
            elif shape == "workday":
                handle = path.open("w", encoding="utf-8-sig", newline="")
                writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            else:
                handle = path.open("w", encoding="cp1252", newline="")
                writer = csv.writer(handle, lineterminator="\r\n")
            self.handles.append(handle)
            self.writers.append(writer)
        self.xlsx = (XlsxSheet(out / HR_SHAPES["xlsx"], columns, date_columns)
                     if "xlsx" in shapes else None)
        for writer in self.writers:
            writer.writerow(columns)

    def row(self, cells: list[str]) -> None:
        for writer in self.writers:
            writer.writerow(cells)
        if self.xlsx is not None:
            self.xlsx.row(cells)

    def close(self) -> None:
        for handle in self.handles:
            handle.close()
        if self.xlsx is not None:
            self.xlsx.close()


# ---- XLSX as Excel saves it --------------------------------------------------------------------

_EPOCH = date(1899, 12, 30).toordinal()
_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"""  # noqa: E501
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""  # noqa: E501
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Workers" sheetId="1" r:id="rId1"/></sheets></workbook>"""  # noqa: E501
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"""  # noqa: E501
# Style 1: Excel's built-in short date (numFmtId 14, m/d/yyyy); style 2: bold (the banner).
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="1"><fill><patternFill patternType="none"/></fill></fills><borders count="1"><border/></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs></styleSheet>"""  # noqa: E501


def _letters(count: int) -> list[str]:
    names = []
    for number in range(1, count + 1):
        name = ""
        while number:
            number, rest = divmod(number - 1, 26)
            name = chr(65 + rest) + name
        names.append(name)
    return names


class XlsxSheet:
    """One worksheet streamed into a zip, strings shared as Excel shares them."""

    def __init__(self, path: Path, columns: list[str], date_columns: set[str]) -> None:
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self.sheet = io.TextIOWrapper(self.zip.open("xl/worksheets/sheet1.xml", "w",
                                                    force_zip64=True), encoding="utf-8")
        self.strings: dict[str, int] = {}
        self.letters = _letters(len(columns))
        self.dates = [column in date_columns for column in columns]
        self.number = 0
        self.buffer: list[str] = []
        self.sheet.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
                         'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                         "<sheetData>")
        self._banner("Workers report (all active and terminated workers, effective today)")
        self.number += 1  # a blank row between the banner and the header
        self.row(columns, header=True)

    def _banner(self, text: str) -> None:
        self.number += 1
        self.buffer.append(f'<row r="{self.number}"><c r="A{self.number}" s="2" t="s">'
                           f"<v>{self._shared(text)}</v></c></row>")

    def _shared(self, text: str) -> int:
        index = self.strings.get(text)
        if index is None:
            index = self.strings[text] = len(self.strings)
        return index

    def row(self, cells: list[str], *, header: bool = False) -> None:
        self.number += 1
        number = self.number
        parts = [f'<row r="{number}">']
        for letter, text, is_date in zip(self.letters, cells, self.dates, strict=True):
            if not text:
                continue  # Excel writes no element for an empty cell
            serial = None if header or not is_date else _serial(text)
            if serial is not None:
                parts.append(f'<c r="{letter}{number}" s="1"><v>{serial}</v></c>')
            else:
                parts.append(f'<c r="{letter}{number}" t="s"><v>{self._shared(text)}</v></c>')
        parts.append("</row>")
        self.buffer.append("".join(parts))
        if len(self.buffer) >= 5000:
            self.sheet.write("".join(self.buffer))
            self.buffer.clear()

    def close(self) -> None:
        self.sheet.write("".join(self.buffer) + "</sheetData></worksheet>")
        self.sheet.close()
        with self.zip.open("xl/sharedStrings.xml", "w", force_zip64=True) as raw:
            shared = io.TextIOWrapper(raw, encoding="utf-8")
            shared.write('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns='
                         '"http://schemas.openxmlformats.org/spreadsheetml/2006/main" count='
                         f'"{len(self.strings)}" uniqueCount="{len(self.strings)}">')
            batch: list[str] = []
            for text in self.strings:
                space = ' xml:space="preserve"' if text != text.strip() else ""
                batch.append(f"<si><t{space}>{escape(text)}</t></si>")
                if len(batch) >= 10000:
                    shared.write("".join(batch))
                    batch.clear()
            shared.write("".join(batch) + "</sst>")
            shared.flush()
            shared.detach()
        for name, text in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS),
                           ("xl/workbook.xml", _WORKBOOK),
                           ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
                           ("xl/styles.xml", _STYLES)):
            self.zip.writestr(name, text)
        self.zip.close()


def _serial(text: str) -> int | None:
    """A US date (MM/DD/YYYY) as an Excel date serial; None for anything else (kept as text)."""
    try:
        month, day, year = (int(part) for part in text.split("/"))
        return date(year, month, day).toordinal() - _EPOCH
    except ValueError:
        return None


# ---- target snapshots --------------------------------------------------------------------------

def write_targets(out: Path, shapes: Iterable[str], users: list[dict[str, Any]],
                  groups: list[dict[str, Any]]) -> None:
    for shape in shapes:
        path = out / TARGET_SHAPES[shape]
        if shape == "jsonl":
            with path.open("w", encoding="utf-8") as handle:
                for user in users:
                    handle.write(json.dumps(user, ensure_ascii=False) + "\n")
        elif shape == "list":
            path.write_text(json.dumps(_list_response(users, 1, len(users), len(users)),
                                       ensure_ascii=False), encoding="utf-8")
        elif shape == "pages":
            with path.open("w", encoding="utf-8") as handle:
                for start in range(0, len(users), SCIM_PAGE):
                    page = users[start:start + SCIM_PAGE]
                    handle.write(json.dumps(_list_response(page, start + 1, len(page),
                                                           len(users)),
                                            ensure_ascii=False) + "\n")
        elif shape == "graph":
            _write_graph(path, users)
        elif shape == "groups":
            document = {"format": "recon.snapshot/1", "source": "https://scim.example.com/v2",
                        "taken_at": "2026-11-15T06:00:00+00:00", "digest": "",
                        "Resources": users, "groups": groups}
            path.write_text(json.dumps(document, indent=1, ensure_ascii=False),
                            encoding="utf-8")


def _list_response(users: list[dict[str, Any]], start: int, count: int,
                   total: int) -> dict[str, Any]:
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start,
            "itemsPerPage": count, "Resources": users}


def graph_user(user: dict[str, Any], employee_ids: dict[str, str]) -> dict[str, Any]:
    """A SCIM user of the generator as Graph returns it for ``$select`` of the read table
    (every selected property present, null when unset) with ``$expand=manager``."""
    enterprise = user.get(ENTERPRISE) or {}
    name = user.get("name") or {}
    emails = user.get("emails") or [{}]
    graph: dict[str, Any] = {
        "id": user["id"], "userPrincipalName": user["userName"],
        "employeeId": user.get("externalId"), "accountEnabled": user.get("active", True),
        "displayName": user.get("displayName"), "givenName": name.get("givenName"),
        "surname": name.get("familyName"), "jobTitle": user.get("title"),
        "mail": emails[0].get("value"), "department": enterprise.get("department"),
        "companyName": enterprise.get("organization"),
        "employeeOrgData": {"costCenter": enterprise.get("costCenter"), "division": None},
        "employeeType": "Employee",
    }
    manager = (enterprise.get("manager") or {}).get("value")
    if manager:
        graph["manager"] = {"@odata.type": "#microsoft.graph.user", "id": manager,
                            "employeeId": employee_ids.get(manager)}
    return graph


def _write_graph(path: Path, users: list[dict[str, Any]]) -> None:
    employee_ids = {user["id"]: user["externalId"] for user in users if user.get("externalId")}
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[")
        for start in range(0, len(users), GRAPH_PAGE):
            page: dict[str, Any] = {"@odata.context": GRAPH_CONTEXT, "value": [
                graph_user(user, employee_ids) for user in users[start:start + GRAPH_PAGE]]}
            if start + GRAPH_PAGE < len(users):
                page["@odata.nextLink"] = ("https://graph.microsoft.com/v1.0/users?$top=999&"
                                           f"$skiptoken=RFNwdAIAAQAAAB{start + GRAPH_PAGE:08d}")
            handle.write(("," if start else "") + json.dumps(page, ensure_ascii=False))
        handle.write("]")


def department_groups(users: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One group per department the accounts hold (``dept-<department>``), each account a
    member of its own; accounts without a department are in none."""
    members: dict[str, list[dict[str, str]]] = {}
    for user in users:
        department = (user.get(ENTERPRISE) or {}).get("department")
        if department:
            members.setdefault(department, []).append({"value": user["id"], "type": "User"})
    return [{"schemas": [GROUP], "id": f"g-{number:04d}", "displayName": f"dept-{name}",
             "members": listed, "meta": {"resourceType": "Group", "version": f'W/"{number}"'}}
            for number, (name, listed) in enumerate(sorted(members.items()))]
