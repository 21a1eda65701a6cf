"""The errors recon raises when it cannot continue.

Data problems are not exceptions: a bad HR row becomes an ``invalid`` row with a reason. An
exception means the run cannot go on, and the CLI turns it into one line and an exit code
(2: a usage or input mistake; 1: the work ran, or was refused, and did not succeed)::

    ReconError                  exit
    ├── ConfigError          2  the config file is missing, not YAML, or not valid
    │   └── TargetSetupError 2  the target refuses how it is set up: wrong base URL (404),
    │                            token rejected (401), permission missing (403)
    ├── InputError           2  an input file cannot be read (names file, row and column)
    ├── PlanError            2  a stale or tampered approval, an approval naming unknown ops
    │   ├── LimitError       1  the approved ops are past a safety limit: refused as a whole
    │   └── QualityError     1  the quality gate refused the extract (it looks broken)
    ├── PushError            1  the target cannot be reached or refuses the batch as a whole
    │   └── TargetReadError  1  a read of the target that cannot be trusted: a listing short
    │                            of its totalResults, pages that loop, throttling past patience
    └── OutputError          2  an output cannot be written (a run folder holding evidence,
                                 a sheet past Excel's row limit)
"""

from __future__ import annotations


class ReconError(Exception):
    """Base class: recon cannot continue. The message is meant for the user, on one line."""

    exit_code = 2


class ConfigError(ReconError):
    """The configuration is missing, unreadable or invalid."""


class TargetSetupError(ConfigError):
    """The target refuses the configured URL, token or permissions; the message says which.

    ``status`` is the HTTP status that showed it (404, 401 or 403).
    """

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


class InputError(ReconError):
    """An input file cannot be read; the message names the file, and the row and column if known."""

    def __init__(
        self, message: str, *, file: str | None = None, row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = ", ".join(
            part
            for part in (
                file,
                f"row {row}" if row is not None else None,
                f"column {column!r}" if column is not None else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.row = row
        self.column = column


class PlanError(ReconError):
    """The plan or approval cannot be used: stale, tampered, or past a safety limit."""


class LimitError(PlanError):
    """The approved ops are past a safety limit (max disables, deletes, member removals)."""

    exit_code = 1


class QualityError(PlanError):
    """The data-quality gate refused the extract: a required column is missing or empty, or too
    many rows failed. Planning from it would make mass changes."""

    exit_code = 1


class PushError(ReconError):
    """The push cannot start or cannot go on (the target is unreachable or refuses the batch)."""

    exit_code = 1


class TargetReadError(PushError):
    """A read of the target cannot be trusted complete, so nothing is planned from it.

    A snapshot short of the server's ``totalResults`` would plan existing accounts as joiners:
    it is refused rather than returned.
    """


class OutputError(ReconError):
    """An output cannot be written as asked, e.g. a workbook sheet past Excel's row limit."""
