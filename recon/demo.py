"""`make demo`: the main job end to end on the bundled samples."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def run_demo(out: Path, console: Console) -> int:
    from recon.cli import print_counts
    from recon.config import load_config
    from recon.reconcile import plan, reconcile, write_outputs

    config = load_config(SAMPLES / "recon.yaml")
    result = reconcile(config)
    the_plan = plan(result, config)
    write_outputs(result, the_plan, out)
    print_counts({str(k): int(v) for k, v in result.counts().items()})
    console.print(f"plan: {len(the_plan.ops)} operations, digest {the_plan.digest[:16]} → {out}")
    return 0
