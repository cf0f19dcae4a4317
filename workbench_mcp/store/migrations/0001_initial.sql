-- Schema v1: runs, their append-only traces and the projections an operation needs to decide.
-- Every primary key and index leads with tenant_id: a tenant never reads past its own rows.
-- JSON columns hold ASCII-only JSON text (see row_codec.dump_json).

-- One row per run. Wide JSON lives here, so it is a rowid table (WITHOUT ROWID suits small rows).
CREATE TABLE runs (
    tenant_id    TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    workflow_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    started_us   INTEGER NOT NULL,  -- startedAt as UTC microseconds: chronological order for listings
    ended_at     TEXT,
    tags         TEXT,              -- JSON array; NULL when the run has no tags member
    revision     INTEGER NOT NULL,
    trace_length INTEGER NOT NULL,  -- rows in trace_events; may differ from revision for imported states
    state_tag    INTEGER NOT NULL,  -- new random value on every write: validates cached engine states
    run_json     TEXT NOT NULL,     -- RunInstance
    engine_json  TEXT NOT NULL,     -- stepStatus, gateState and open spans, in map order
    PRIMARY KEY (tenant_id, run_id)
);

-- Newest first, covering every SavedRunMeta member: a page never touches the wide rows.
CREATE INDEX runs_listing ON runs (
    tenant_id, started_us DESC, run_id DESC, workflow_id, started_at, ended_at, status, tags
);

-- Maintained by triggers, so the per-tenant run limit costs one lookup instead of a count.
CREATE TABLE tenant_run_counts (
    tenant_id TEXT NOT NULL PRIMARY KEY,
    run_count INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TRIGGER runs_counted_insert AFTER INSERT ON runs BEGIN
    INSERT INTO tenant_run_counts (tenant_id, run_count) VALUES (NEW.tenant_id, 1)
        ON CONFLICT (tenant_id) DO UPDATE SET run_count = run_count + 1;
END;

CREATE TRIGGER runs_counted_delete AFTER DELETE ON runs BEGIN
    UPDATE tenant_run_counts SET run_count = run_count - 1 WHERE tenant_id = OLD.tenant_id;
END;

-- The trace, one row per event; seq is the event's 1-based position. The primary key makes a
-- second writer of the same position fail instead of silently interleaving.
CREATE TABLE trace_events (
    tenant_id  TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    event_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- Every artifact version ever written (the serialized state keeps only the latest).
CREATE TABLE artifact_versions (
    tenant_id     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    artifact_key  TEXT NOT NULL,
    version       INTEGER NOT NULL,
    artifact_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, artifact_key, version),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- artifactsByKey: which version is current, and the key's position in the map.
CREATE TABLE artifact_heads (
    tenant_id    TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    artifact_key TEXT NOT NULL,
    position     INTEGER NOT NULL,
    version      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, run_id, artifact_key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- ruleSetsById: the current sets in map order.
CREATE TABLE rule_sets (
    tenant_id     TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    rule_set_id   TEXT NOT NULL,
    position      INTEGER NOT NULL,
    rule_set_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, rule_set_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- Idempotency records, with the digest of the payload each key carried (D12).
CREATE TABLE idempotency (
    tenant_id       TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    position        INTEGER NOT NULL,
    artifact_key    TEXT NOT NULL,
    version         INTEGER NOT NULL,
    payload_digest  TEXT,
    PRIMARY KEY (tenant_id, run_id, idempotency_key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- start_run retries: a request id names the run it created, for as long as that run exists.
CREATE TABLE start_requests (
    tenant_id  TEXT NOT NULL,
    request_id TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, request_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- Lets the cascade from runs find a run's requests without scanning the table.
CREATE INDEX start_requests_by_run ON start_requests (tenant_id, run_id);
