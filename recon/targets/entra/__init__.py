"""Microsoft Entra ID through Microsoft Graph: credentials, the users read as SCIM-shaped dicts
(``graph``, ``mapping``), the records API-driven inbound provisioning takes (``records``) and
the bulkUpload sender (``inbound``). See docs/entra.md for permissions and configuration; the
push and verify workflows are ``recon.workflows.push_entra`` and ``recon.workflows.verify_entra``.
"""
