"""recon: keep an HR system of record and its identity targets in agreement."""

__version__ = "0.1.0"
