"""Fixtures shared by the tests (as sqlite-utils' conftest.py holds fresh_db / existing_db).

- ``samples``: the bundled samples folder; ``sample_config``: its recon.yaml.
- ``sample_run``: (config, reconciliation, plan) of the samples, once per test module.
- ``scim_client``: a fresh scim2-server, in process (WSGI), empty.
- ``scim_server``: a fresh real ``scim2-server`` on 127.0.0.1, empty.

Helpers that build plans and tables by hand are ``tests/plans.py`` and ``tests/tables.py``.
"""

from __future__ import annotations

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
