"""The curated public surface that notebooks use (httpx-style: __all__ is checked)."""

import recon

EXPECTED = {"load_config", "read_hr", "snapshot", "reconcile", "plan", "approve", "push",
            "verify", "write_workbook", "read_approvals"}


def test_public_names_are_exported_and_callable() -> None:
    exported = set(recon.__all__)
    assert exported == EXPECTED
    for name in exported:
        assert callable(getattr(recon, name)), name
