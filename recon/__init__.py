"""recon: keep an HR system of record and its identity targets in agreement.

The package root is the whole public API: what a notebook or a script needs, the same calls the
CLI makes. ``recon.notebook`` and ``recon.hygiene`` add notebook helpers on top.
"""

from recon.core.approve import approve
from recon.io.config_file import load_config
from recon.io.hr import read_hr
from recon.io.plan_files import write_approval
from recon.io.run import write_outputs
from recon.io.workbook import read_approvals, write_workbook
from recon.targets.scim import connect
from recon.workflows.push import push
from recon.workflows.reconcile import check_quality, plan, reconcile, snapshot
from recon.workflows.undo import undo
from recon.workflows.verify import verify
from recon.workflows.waves import plan_waves, wave_progress

__version__ = "0.1.0"

__all__ = [
    "approve",
    "check_quality",
    "connect",
    "load_config",
    "plan",
    "plan_waves",
    "push",
    "read_approvals",
    "read_hr",
    "reconcile",
    "snapshot",
    "undo",
    "verify",
    "wave_progress",
    "write_approval",
    "write_outputs",
    "write_workbook",
]
