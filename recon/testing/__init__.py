"""Real parts for tests, the demo and the notebooks: scim2-server, a fault proxy, a quirk proxy.

Nothing here is a fake: ``scimserver`` runs the third-party scim2-server (in-process or as the
``scim2-server`` command on loopback); ``faults`` and ``quirks`` are proxies in front of it that
misbehave as networks do and bend answers as providers document.
"""

from recon.testing.faults import FaultProxy, Faults
from recon.testing.quirks import PROFILE_EMULATIONS, QUIRKS, QuirkApp, QuirkProxy, Quirks
from recon.testing.scimserver import (
    RunningServer,
    cursor_pagination,
    inprocess_app,
    inprocess_client,
    seed,
    start_server,
    user,
)

__all__ = ["PROFILE_EMULATIONS", "QUIRKS", "FaultProxy", "Faults", "QuirkApp", "QuirkProxy",
           "Quirks", "RunningServer", "cursor_pagination", "inprocess_app", "inprocess_client",
           "seed", "start_server", "user"]
