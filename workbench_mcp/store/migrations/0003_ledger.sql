-- Schema v3: the signed ledger (workbench_mcp/ledger). Each trace event and each audit row carries its
-- hash-chain link in a column beside the JSON, never inside the event (whose shape the protocol fixes):
-- written in the same insert, so the chain adds no page to a commit. Runs stored before this version
-- get their links computed once when a store with the ledger opens (ledger/store_rows.backfill_run).
ALTER TABLE trace_events ADD COLUMN link TEXT;

ALTER TABLE audit ADD COLUMN link TEXT;

-- Runs whose rows are linked (written by the ledger or backfilled): the others get linked at open.
CREATE TABLE ledger_runs (
    tenant_id TEXT NOT NULL,
    run_id    TEXT NOT NULL,
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
