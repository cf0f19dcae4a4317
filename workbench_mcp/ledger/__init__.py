"""The signed ledger: hash-chained events and audit records, signed checkpoints, DSSE/in-toto attestations."""
