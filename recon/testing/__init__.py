"""Real parts for tests, the demo and the notebooks: scim2-server and a fault-injecting proxy.

Nothing here is a fake: ``scimserver`` runs the third-party scim2-server (in-process or as the
``scim2-server`` command on loopback) and ``faults`` is a proxy in front of it.
"""

from recon.testing.faults import FaultProxy, Faults
from recon.testing.scimserver import (
    RunningServer,
    inprocess_app,
    inprocess_client,
    seed,
    start_server,
    user,
)

__all__ = ["FaultProxy", "Faults", "RunningServer", "inprocess_app", "inprocess_client", "seed",
           "start_server", "user"]
