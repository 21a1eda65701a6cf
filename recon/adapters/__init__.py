"""Adapters: the only modules that touch files, HTTP, Excel and Microsoft Graph."""
