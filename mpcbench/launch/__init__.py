"""Launching parties: local processes, run orchestration and declarative sweeps."""
