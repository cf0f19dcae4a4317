"""Persistence of runs: an async, tenant-scoped, append-oriented store."""
