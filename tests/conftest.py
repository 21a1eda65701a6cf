"""Fixtures shared by the tests (as sqlite-utils' conftest.py holds fresh_db / existing_db).

- ``samples``: the bundled samples folder; ``sample_config``: its recon.yaml.
- ``sample_run``: (config, reconciliation, plan) of the samples, once per test module.
- ``scim_client``: a fresh scim2-server, in process (WSGI), empty.
- ``scim_server``: a fresh real ``scim2-server`` on 127.0.0.1, empty.
- ``kernel``: a Jupyter kernelspec for this interpreter, for running notebooks headless.

Helpers that build plans and tables by hand are ``tests/plans.py`` and ``tests/tables.py``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from recon.core.config import Config
from recon.io.config_file import load_config
from recon.targets.scim import ScimClient
from recon.testing.scimserver import RunningServer, inprocess_client, start_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def sample_config() -> Config:
    return load_config(SAMPLES / "recon.yaml")


@pytest.fixture(scope="module")
def sample_run(sample_config: Config) -> tuple[Config, Any, Any]:
    from recon.workflows.reconcile import plan, reconcile

    result = reconcile(sample_config)
    return sample_config, result, plan(result, sample_config)


@pytest.fixture()
def scim_client() -> Iterator[ScimClient]:
    client = inprocess_client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture()
def scim_server() -> Iterator[RunningServer]:
    with start_server() as running:
        yield running


KERNEL = "recon-notebook-tests"


@pytest.fixture(scope="session")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A kernelspec for this interpreter (the venv's), found through JUPYTER_PATH."""
    import os

    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "recon (tests)", "language": "python"}), encoding="utf-8")
    before = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(root), before) if p)
    yield KERNEL
    if before is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = before
