-- Schema v3: the signed ledger (workbench_mcp/ledger). Chains live beside the rows they cover, never
-- inside trace events (whose shape the protocol fixes). Runs stored before this version get their
-- chains computed once when a store with the ledger opens (ledger/store_rows.backfill).

-- One link per record: stream 'event' (trace_events by seq) or 'audit' (audit by seq).
CREATE TABLE ledger_links (
    tenant_id TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    stream    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    link      TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, stream, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Each run's last links: an append extends the chain from here in O(1).
CREATE TABLE ledger_heads (
    tenant_id  TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    event_seq  INTEGER NOT NULL,
    event_head TEXT NOT NULL,
    audit_seq  INTEGER NOT NULL,
    audit_head TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Signed checkpoints (DSSE envelopes), numbered per run.
CREATE TABLE ledger_checkpoints (
    tenant_id TEXT NOT NULL,
    run_id    TEXT NOT NULL,
    number    INTEGER NOT NULL,
    event_seq INTEGER NOT NULL,
    reason    TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, number),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- Every public key the server has signed with; retired keys stay, so old attestations still verify.
CREATE TABLE ledger_keys (
    kid        TEXT NOT NULL PRIMARY KEY,
    jwk        TEXT NOT NULL,
    added_at   TEXT NOT NULL,
    retired_at TEXT
);
