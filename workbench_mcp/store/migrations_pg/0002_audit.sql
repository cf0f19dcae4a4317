-- Schema v2: who made each mutation, and when, beside the trace (migrations/0002_audit.sql).
CREATE TABLE audit (
    tenant_id      TEXT COLLATE "C" NOT NULL,
    run_id         TEXT COLLATE "C" NOT NULL,
    seq            BIGINT NOT NULL,
    event_id       TEXT NOT NULL,
    principal      TEXT NOT NULL,
    tool           TEXT NOT NULL,
    correlation_id TEXT,
    at             TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE INDEX audit_by_event ON audit (tenant_id, event_id);
