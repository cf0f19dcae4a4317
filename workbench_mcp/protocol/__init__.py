"""Wire protocol 1.0.0: models, canonical JSON, collation and bundles (docs/protocol.md)."""
