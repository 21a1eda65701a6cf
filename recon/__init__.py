"""recon: keep an HR system of record and its identity targets in agreement.

The public surface is what a notebook needs; the CLI calls the same functions.
"""

from recon.adapters.hr import read_hr
from recon.adapters.workbook import read_approvals, write_workbook
from recon.approve import approve
from recon.config import load_config
from recon.push import push
from recon.reconcile import plan, reconcile, snapshot
from recon.verify import verify

__version__ = "0.1.0"

__all__ = [
    "approve",
    "load_config",
    "plan",
    "push",
    "read_approvals",
    "read_hr",
    "reconcile",
    "snapshot",
    "verify",
    "write_workbook",
]
