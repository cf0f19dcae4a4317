"""Governance: who may call what (scopes), who may decide a gate (approval policies), within what budget."""
