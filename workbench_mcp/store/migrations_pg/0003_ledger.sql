-- Schema v3: the signed ledger (migrations/0003_ledger.sql): chain links beside the rows, linked runs,
-- signed checkpoints and every public key ever used.
ALTER TABLE trace_events ADD COLUMN link TEXT;

ALTER TABLE audit ADD COLUMN link TEXT;

CREATE TABLE ledger_runs (
    tenant_id TEXT COLLATE "C" NOT NULL,
    run_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, run_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE TABLE ledger_checkpoints (
    tenant_id TEXT COLLATE "C" NOT NULL,
    run_id    TEXT COLLATE "C" NOT NULL,
    number    BIGINT NOT NULL,
    event_seq BIGINT NOT NULL,
    reason    TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, number),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- Server-wide, not per tenant: the keys that sign every tenant's checkpoints.
CREATE TABLE ledger_keys (
    kid        TEXT NOT NULL PRIMARY KEY,
    jwk        TEXT NOT NULL,
    added_at   TEXT NOT NULL,
    retired_at TEXT
);
