"""`make demo` end to end: a real scim2-server on loopback, seeded, reconciled, pushed, verified."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from recon.demo import run_demo

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_demo_converges_every_approved_operation(tmp_path: Path) -> None:
    buffer = io.StringIO()
    code = run_demo(tmp_path / "demo", Console(file=buffer, width=120))
    output = buffer.getvalue()
    assert code == 0, output
    # 50 user ops, plus 24 group ops: 1 group to create, 12 adds, 11 removes (README.md)
    assert "converged: 74/74 approved operations" in output
    assert "still planned after the push: 0 operations" in output
    for name in ("identities.csv", "diffs.csv", "plan.json", "approval.json", "journal.sqlite",
                 "verification.csv", "report.xlsx", "evidence.xlsx", "groups.csv",
                 "memberships.csv"):
        assert (tmp_path / "demo" / name).exists(), name
