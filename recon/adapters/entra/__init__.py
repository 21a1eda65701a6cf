"""Microsoft Entra ID through Microsoft Graph: snapshot of users, API-driven inbound push, verify.

- ``snapshot_entra(target)`` reads ``/users`` through msgraph-sdk and maps each user to a SCIM
  User dict (``GRAPH_ATTRIBUTES``), so reconcile, reports and notebooks are unchanged;
- ``push_inbound(plan, approval, target, journal, desired=…)`` sends approved ops as SCIM
  BulkRequests to ``bulkUpload`` (≤ 50 operations a request, paced, journaled);
- ``verify_inbound(plan, target, journal, desired=…)`` reads the provisioning logs and the
  users again and says per op whether Entra applied it.

See docs/entra.md for permissions and configuration.
"""

from recon.adapters.entra.configured import push_configured, verify_configured
from recon.adapters.entra.credentials import EnvTokenCredential, graph_credential
from recon.adapters.entra.graph import provisioning_logs, snapshot_entra
from recon.adapters.entra.inbound import InboundPushResult, desired_for, push_inbound
from recon.adapters.entra.mapping import (
    GRAPH_ATTRIBUTES,
    GRAPH_EXTENSION,
    GraphAttribute,
    graph_property,
    graph_select,
    scim_user,
)
from recon.adapters.entra.verify import InboundVerification, verify_inbound

__all__ = [
    "GRAPH_ATTRIBUTES",
    "GRAPH_EXTENSION",
    "EnvTokenCredential",
    "GraphAttribute",
    "InboundPushResult",
    "InboundVerification",
    "desired_for",
    "graph_credential",
    "graph_property",
    "graph_select",
    "provisioning_logs",
    "push_configured",
    "push_inbound",
    "scim_user",
    "snapshot_entra",
    "verify_configured",
    "verify_inbound",
]
