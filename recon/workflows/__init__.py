"""Orchestration: reconcile, push, verify and report, each one call that a face makes."""
