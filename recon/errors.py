"""The errors recon raises when it cannot continue.

Data problems are not exceptions: a bad HR row becomes an ``invalid`` row with a reason. An
exception means the run cannot go on, and the CLI turns it into one line and an exit code::

    ReconError
    ├── ConfigError   the config file is missing, not YAML, or not valid
    │   └── TargetSetupError   the target refuses how it is set up: wrong base URL (404),
    │                          token rejected (401), permission missing (403)
    ├── InputError    an input file cannot be read (names file, row and column)
    ├── PlanError     a stale or tampered approval, a safety limit, a broken extract
    ├── PushError     the target cannot be reached or refuses the batch as a whole
    │   └── TargetReadError    a read of the target that cannot be trusted: a listing short of
    │                          its totalResults, pages that loop, throttling past the run's patience
    └── OutputError   an output cannot hold the run (a sheet past Excel's row limit)

Exit codes: 2 for a mistake the user fixes in the config, the environment or the input; 1 when
the work ran but did not succeed (``PushError`` and below).
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
