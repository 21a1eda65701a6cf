"""Microsoft Entra ID through Microsoft Graph (docs/entra.md).

- ``credentials``: azure-identity credentials, with the authority of ``graph_url``'s cloud;
- ``graph``: the msgraph-sdk session, paging, users read as SCIM-shaped dicts, the push's
  re-read; ``delta``: repeated snapshots through ``users/delta``; ``logs``: provisioning logs;
- ``jobs``: the inbound job's status and schema, and the link (``PATCH /users/{id}``);
- ``mapping``: what recon reads from Graph, and what the inbound app writes (its mappings);
  ``compare``: what reconcile compares for Entra; ``review``: lifecycle dates and guests;
- ``preconditions``: each approved op judged on a fresh read; ``records``: the bulkUpload
  records; ``inbound``: the bulkUpload sender (pacing, daily quota).

The push and verify workflows are ``recon.workflows.push_entra`` and
``recon.workflows.verify_entra``.
"""
