"""The push journal: one SQLite row per attempt, so that a push can be audited and resumed.

Every attempt is written *before* its request is sent (outcome ``pending``) and completed after
the reply. A push killed at any point (SIGKILL included) therefore leaves either a finished
attempt or a ``pending`` one, and a ``pending`` attempt means "the outcome is unknown": the next
run re-reads the target before it writes again (and looks a create up before re-posting).

SQLite in WAL mode with ``synchronous=NORMAL`` keeps every committed transaction across a crash
of the process; a crash of the whole machine may lose the last few, which only turns them back
into "unknown" attempts — the same safe path as above.

What is stored: op ids, actions, methods, paths, HTTP statuses, target ids, error details and a
short request summary (the attribute paths an op writes, never their values, never a header):
the journal is evidence for an auditor, not a second copy of personal data or secrets.
"""

from __future__ import annotations

import fcntl
import getpass
import os
import socket
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pandas as pd

from recon.errors import PushError

#: Final outcomes; an op whose latest outcome is one of DONE is skipped on resume.
DONE = frozenset({"succeeded", "already_applied"})
PENDING = "pending"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_digest TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    note TEXT,
    target TEXT
);
CREATE TABLE IF NOT EXISTS attempts (
    op_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    run_id INTEGER,
    action TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_summary TEXT,
    http_status INTEGER,
    resource_id TEXT,
    outcome TEXT NOT NULL,
    error TEXT,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    PRIMARY KEY (op_id, attempt)
);
CREATE TABLE IF NOT EXISTS ops (
    op_id TEXT PRIMARY KEY,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    target_id TEXT,
    attempts INTEGER NOT NULL,
    http_status INTEGER,
    error TEXT,
    updated_at TEXT NOT NULL
);
"""


#: Who is pushing, for the evidence: ``recon push --by NAME`` sets it; default the OS account.
PUSHED_BY_ENV = "RECON_PUSHED_BY"


def pushed_by() -> str:
    """The person (or scheduler) a push run is recorded under: ``RECON_PUSHED_BY``, else the OS
    account and host that run it."""
    given = os.environ.get(PUSHED_BY_ENV, "").strip()
    if given:
        return given
    try:
        account = getpass.getuser()
    except (KeyError, OSError):
        account = "unknown"
    return f"{account}@{socket.gethostname()}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Attempt:
    """A started attempt: enough to finish it later."""

    op_id: str
    attempt: int


@dataclass(frozen=True)
class Finished:
    """How an attempt ended; ``final`` when it also settles the op."""

    attempt: Attempt
    outcome: str
    http_status: int | None = None
    resource_id: str | None = None
    error: str | None = None
    final: bool = True


@dataclass(frozen=True)
class OpState:
    """What the journal knows about an op from earlier runs."""

    status: str
    attempts: int
    target_id: str | None
    uncertain: bool  # an attempt may have reached the target without us seeing the reply


class Journal:
    """A SQLite journal shared by the push threads (one connection, one lock).

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path: str | Path, *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file: IO[bytes] | None = None
        if exclusive:
            self._take_lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                       timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            if "pushed_by" not in columns:  # journals written before it was recorded
                self._db.execute("ALTER TABLE runs ADD COLUMN pushed_by TEXT")
        except sqlite3.DatabaseError as error:
            raise PushError(f"{self.path}: not a usable push journal ({error})") from error
        self._lock = threading.Lock()
        self.run_id: int | None = None

    def _take_lock(self) -> None:
        """One push per journal at a time (the kernel drops the lock if the push is killed)."""
        handle = open(self.path.with_name(self.path.name + ".lock"), "ab")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.close()
            raise PushError(f"{self.path}: another push is using this journal") from error
        self._lock_file = handle

    def close(self) -> None:
        self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # runs

    def start_run(self, plan_digest: str, note: str = "", target: str | None = None) -> int:
        """Open a run. A journal belongs to one target: resuming skips what succeeded there,
        so a journal that recorded pushes to another target is refused."""
        with self._lock:
            if target is not None:
                used = {row[0] for row in self._db.execute(
                    "SELECT DISTINCT target FROM runs WHERE target IS NOT NULL")}
                other = sorted(used - {target})
                if other:
                    raise PushError(f"{self.path}: this journal records pushes to {other[0]}; "
                                    f"use a new journal for {target}")
            cursor = self._db.execute(
                "INSERT INTO runs (plan_digest, started_at, note, target, pushed_by) "
                "VALUES (?, ?, ?, ?, ?)", (plan_digest, now(), note, target, pushed_by()))
            self.run_id = int(cursor.lastrowid or 0)
            return self.run_id

    def end_run(self) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET ended_at = ? WHERE run_id = ?", (now(), self.run_id))

    # attempts

    def begin(self, op_id: str, *, action: str, method: str, path: str, summary: str = ""
              ) -> Attempt:
        """Record an attempt before its request is sent (so a crash leaves it ``pending``)."""
        return self.begin_many([(op_id, action, method, path, summary)])[0]

    def begin_many(self, rows: Iterable[tuple[str, str, str, str, str]]) -> list[Attempt]:
        """Record several attempts in one transaction (one Bulk request)."""
        started = now()
        attempts: list[Attempt] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for op_id, action, method, path, summary in rows:
                    row = self._db.execute(
                        "SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE op_id = ?", (op_id,)
                    ).fetchone()
                    number = int(row[0]) + 1
                    self._db.execute(
                        "INSERT INTO attempts (op_id, attempt, run_id, action, method, path,"
                        " request_summary, outcome, started_at) VALUES (?,?,?,?,?,?,?,?,?)",
                        (op_id, number, self.run_id, action, method, path, summary, PENDING,
                         started))
                    self._upsert_op(op_id, action, PENDING, None, number, None, None, started)
                    attempts.append(Attempt(op_id, number))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return attempts

    def finish(
        self, attempt: Attempt, *, outcome: str, http_status: int | None = None,
        resource_id: str | None = None, error: str | None = None, final: bool = True,
    ) -> None:
        """Complete an attempt; ``final`` also sets the op's state (a retried attempt is not)."""
        self.finish_many([Finished(attempt, outcome, http_status, resource_id, error, final)])

    def finish_many(self, rows: Iterable[Finished]) -> None:
        """Complete several attempts in one transaction (the answers of one Bulk request)."""
        ended = now()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    self._db.execute(
                        "UPDATE attempts SET outcome = ?, http_status = ?, resource_id = ?,"
                        " error = ?, ended_at = ? WHERE op_id = ? AND attempt = ?",
                        (row.outcome, row.http_status, row.resource_id, row.error, ended,
                         row.attempt.op_id, row.attempt.attempt))
                    self._db.execute(
                        "UPDATE ops SET status = ?, target_id = COALESCE(?, target_id),"
                        " http_status = ?, error = ?, updated_at = ? WHERE op_id = ?",
                        (row.outcome if row.final else PENDING, row.resource_id, row.http_status,
                         row.error, ended, row.attempt.op_id))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def settle(self, op_id: str, *, action: str, status: str, error: str | None = None,
               target_id: str | None = None) -> None:
        """Set an op's final state without a request (e.g. stale found by a re-read)."""
        with self._lock:
            row = self._db.execute("SELECT attempts FROM ops WHERE op_id = ?", (op_id,)).fetchone()
            self._upsert_op(op_id, action, status, target_id, int(row[0]) if row else 0, None,
                            error, now())

    def _upsert_op(self, op_id: str, action: str, status: str, target_id: str | None,
                   attempts: int, http_status: int | None, error: str | None, at: str) -> None:
        self._db.execute(
            "INSERT INTO ops (op_id, action, status, target_id, attempts, http_status, error,"
            " updated_at) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(op_id) DO UPDATE SET"
            " status = excluded.status, target_id = COALESCE(excluded.target_id, ops.target_id),"
            " attempts = MAX(excluded.attempts, ops.attempts), http_status = excluded.http_status,"
            " error = excluded.error, updated_at = excluded.updated_at",
            (op_id, action, status, target_id, attempts, http_status, error, at))

    # reading

    def states(self, op_ids: Iterable[str] | None = None) -> dict[str, OpState]:
        """Each op's state from earlier runs (all ops, or only the given ones)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT o.op_id, o.status, o.attempts, o.target_id,"
                " EXISTS(SELECT 1 FROM attempts a WHERE a.op_id = o.op_id"
                "        AND a.outcome IN ('pending', 'uncertain', 'deferred'))"
                " FROM ops o").fetchall()
        wanted = set(op_ids) if op_ids is not None else None
        return {
            op_id: OpState(status, int(attempts), target_id, bool(uncertain))
            for op_id, status, attempts, target_id, uncertain in rows
            if wanted is None or op_id in wanted
        }

    def done(self) -> set[str]:
        """Op ids whose latest outcome is success or already applied (skipped on resume)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT op_id FROM ops WHERE status IN ('succeeded', 'already_applied')"
            ).fetchall()
        return {row[0] for row in rows}

    def attempts_frame(self) -> pd.DataFrame:
        """Every attempt, oldest first (for reports and tests)."""
        with self._lock:
            return pd.read_sql_query(
                "SELECT * FROM attempts ORDER BY started_at, op_id, attempt", self._db)

    def ops_frame(self) -> pd.DataFrame:
        with self._lock:
            return pd.read_sql_query("SELECT * FROM ops ORDER BY op_id", self._db)
