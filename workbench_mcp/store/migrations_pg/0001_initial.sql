-- Schema v1 (PostgreSQL dialect of migrations/0001_initial.sql): runs, their append-only traces and the
-- projections an operation needs to decide. Every primary key and index leads with tenant_id.
-- JSON columns are TEXT holding ASCII-only JSON (row_codec.dump_json), never jsonb: jsonb rejects \u0000
-- and lone surrogates, which the protocol allows, and would not give the stored bytes back.
-- Keys sort by code point (COLLATE "C"), as in SQLite, whatever the database's locale.
CREATE TABLE runs (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    run_id       TEXT COLLATE "C" NOT NULL,
    workflow_id  TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    started_us   BIGINT NOT NULL,
    ended_at     TEXT,
    tags         TEXT,
    revision     BIGINT NOT NULL,
    trace_length BIGINT NOT NULL,
    state_tag    BIGINT NOT NULL,
    run_json     TEXT NOT NULL,
    engine_json  TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id)
);

-- Newest first, covering every SavedRunMeta member (index-only pages).
CREATE INDEX runs_listing ON runs (tenant_id, started_us DESC, run_id DESC)
    INCLUDE (workflow_id, started_at, ended_at, status, tags);

-- Maintained by a trigger, so the per-tenant run limit costs one lookup instead of a count.
CREATE TABLE tenant_run_counts (
    tenant_id TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    run_count BIGINT NOT NULL
);

CREATE FUNCTION runs_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO tenant_run_counts (tenant_id, run_count) VALUES (NEW.tenant_id, 1)
            ON CONFLICT (tenant_id) DO UPDATE SET run_count = tenant_run_counts.run_count + 1;
        RETURN NEW;
    END IF;
    UPDATE tenant_run_counts SET run_count = run_count - 1 WHERE tenant_id = OLD.tenant_id;
    RETURN OLD;
END
$$;

CREATE TRIGGER runs_counted AFTER INSERT OR DELETE ON runs FOR EACH ROW EXECUTE FUNCTION runs_counted();

CREATE TABLE trace_events (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    run_id     TEXT COLLATE "C" NOT NULL,
    seq        BIGINT NOT NULL,
    event_id   TEXT NOT NULL,
    type       TEXT NOT NULL,
    event_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, seq),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE TABLE artifact_versions (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    run_id        TEXT COLLATE "C" NOT NULL,
    artifact_key  TEXT COLLATE "C" NOT NULL,
    version       BIGINT NOT NULL,
    artifact_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, artifact_key, version),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE TABLE artifact_heads (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    run_id       TEXT COLLATE "C" NOT NULL,
    artifact_key TEXT COLLATE "C" NOT NULL,
    position     BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, artifact_key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE TABLE rule_sets (
    tenant_id     TEXT COLLATE "C" NOT NULL,
    run_id        TEXT COLLATE "C" NOT NULL,
    rule_set_id   TEXT COLLATE "C" NOT NULL,
    position      BIGINT NOT NULL,
    rule_set_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, rule_set_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE TABLE idempotency (
    tenant_id       TEXT COLLATE "C" NOT NULL,
    run_id          TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    position        BIGINT NOT NULL,
    artifact_key    TEXT NOT NULL,
    version         BIGINT NOT NULL,
    payload_digest  TEXT,
    PRIMARY KEY (tenant_id, run_id, idempotency_key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

-- start_run retries: the unique key deduplicates request ids (INSERT ... ON CONFLICT).
CREATE TABLE start_requests (
    tenant_id  TEXT COLLATE "C" NOT NULL,
    request_id TEXT COLLATE "C" NOT NULL,
    run_id     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (tenant_id, request_id),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE INDEX start_requests_by_run ON start_requests (tenant_id, run_id);
