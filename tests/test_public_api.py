"""The package root is the public API, exactly (as httpx's test_exported_members.py checks)."""

import recon

EXPECTED = {
    "approve", "check_quality", "connect", "load_config", "plan", "plan_waves", "push",
    "read_approvals", "read_hr", "reconcile", "snapshot", "undo", "verify", "wave_progress",
    "write_approval", "write_outputs", "write_workbook",
}


def test_the_root_exports_exactly_the_public_api() -> None:
    assert set(recon.__all__) == EXPECTED
    public = {name for name in vars(recon) if not name.startswith("_")}
    # Subpackages appear as attributes once imported; everything else public is in __all__.
    modules = {"core", "io", "targets", "workflows", "errors", "testing", "notebook", "hygiene",
               "cli", "demo", "console"}
    assert public - modules == EXPECTED
    for name in EXPECTED:
        assert callable(getattr(recon, name)), name
