"""Live systems: a SCIM 2.0 service provider (httpx) and Microsoft Entra ID (Microsoft Graph)."""
