"""The SQLite journal of bulkUpload pushes: every request attempt, every op's bulkId and state.

bulkUpload answers ``202 Accepted`` and nothing per operation; what happened to each op is
known only later, from the provisioning logs. So the journal keeps, per op, the bulkId, the
request it travelled in, when it was sent and the exact record — ``verify_inbound`` reads them
back, and a second ``push_inbound`` of the same plan skips what was already accepted.

Tables are prefixed ``entra_`` so they can share a file with the SCIM push journal.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from recon.errors import PushError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entra_runs (
  run_id INTEGER PRIMARY KEY AUTOINCREMENT,
  plan_digest TEXT NOT NULL, job_id TEXT NOT NULL, endpoint TEXT NOT NULL,
  started_at TEXT NOT NULL, finished_at TEXT
);
CREATE TABLE IF NOT EXISTS entra_requests (
  run_id INTEGER NOT NULL, request_no INTEGER NOT NULL, attempt INTEGER NOT NULL,
  sent_at TEXT NOT NULL, status INTEGER, retry_after TEXT, location TEXT, error TEXT,
  op_count INTEGER NOT NULL, body_sha256 TEXT NOT NULL,
  PRIMARY KEY (run_id, request_no, attempt)
);
CREATE TABLE IF NOT EXISTS entra_ops (
  run_id INTEGER NOT NULL, op_id TEXT NOT NULL, bulk_id TEXT, hr_key TEXT, action TEXT,
  request_no INTEGER, state TEXT NOT NULL, detail TEXT, sent_at TEXT, record TEXT,
  PRIMARY KEY (run_id, op_id)
);
"""


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class JournaledOp:
    """An op's latest state across the runs of one plan."""

    op_id: str
    bulk_id: str
    hr_key: str
    action: str
    state: str  # accepted | failed | skipped
    detail: str
    sent_at: str
    record: dict[str, Any]
    run_id: int


class InboundJournal:
    """A small, append-mostly SQLite journal (one connection, autocommit per write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            # WAL: one fsync per transaction, readers never block the push.
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise PushError(f"{self.path}: cannot open the push journal ({error})") from error

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> InboundJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, plan_digest: str, job_id: str, endpoint: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO entra_runs (plan_digest, job_id, endpoint, started_at) VALUES (?,?,?,?)",
            (plan_digest, job_id, endpoint, utc_now()))
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int) -> str:
        finished = utc_now()
        self._db.execute("UPDATE entra_runs SET finished_at = ? WHERE run_id = ?",
                         (finished, run_id))
        return finished

    def record_attempt(
        self, run_id: int, request_no: int, attempt: int, *, sent_at: str, status: int | None,
        op_count: int, body_sha256: str, retry_after: str | None = None,
        location: str | None = None, error: str | None = None,
    ) -> None:
        self._db.execute(
            "INSERT INTO entra_requests VALUES (?,?,?,?,?,?,?,?,?,?)",
            (run_id, request_no, attempt, sent_at, status, retry_after, location, error,
             op_count, body_sha256))

    def record_ops(
        self, run_id: int, rows: Iterable[tuple[str, str, str, str, dict[str, Any] | None]], *,
        request_no: int | None, state: str, detail: str = "", sent_at: str = "",
    ) -> None:
        """Rows of (op_id, bulk_id, hr_key, action, record) that reached ``state`` together.

        One transaction per call: a request's ops are journaled all or none.
        """
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO entra_ops VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, op_id, bulk_id, hr_key, action, request_no, state, detail, sent_at,
                  json.dumps(record, sort_keys=True) if record is not None else None)
                 for op_id, bulk_id, hr_key, action, record in rows])

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def latest_ops(self, plan_digest: str, job_id: str) -> dict[str, JournaledOp]:
        """Per op id, its most telling state over the plan's runs: accepted wins over retries."""
        rows = self._db.execute(
            "SELECT o.op_id, o.bulk_id, o.hr_key, o.action, o.state, o.detail, o.sent_at,"
            " o.record, o.run_id FROM entra_ops o JOIN entra_runs r USING (run_id)"
            " WHERE r.plan_digest = ? AND r.job_id = ? ORDER BY o.run_id",
            (plan_digest, job_id)).fetchall()
        latest: dict[str, JournaledOp] = {}
        for op_id, bulk_id, hr_key, action, state, detail, sent_at, record, run_id in rows:
            if latest.get(op_id) is not None and latest[op_id].state == "accepted":
                continue  # an op accepted once is not un-accepted by a later run's skip
            latest[op_id] = JournaledOp(op_id, bulk_id or "", hr_key or "", action or "", state,
                                        detail or "", sent_at or "",
                                        json.loads(record) if record else {}, int(run_id))
        return latest

    def attempts(self, run_id: int) -> list[dict[str, Any]]:
        cursor = self._db.execute(
            "SELECT * FROM entra_requests WHERE run_id = ? ORDER BY request_no, attempt",
            (run_id,))
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
