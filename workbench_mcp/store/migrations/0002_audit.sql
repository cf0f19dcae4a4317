-- Schema v2: who made each mutation, and when, kept beside the trace (never inside its events).
-- One row per appended event; seq identifies the event even when an imported trace repeats an id.
CREATE TABLE audit (
    tenant_id      TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    event_id       TEXT NOT NULL,
    principal      TEXT NOT NULL,
    tool           TEXT NOT NULL,
    correlation_id TEXT,
    at             TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- "Who wrote event evt_...?"
CREATE INDEX audit_by_event ON audit (tenant_id, event_id);
