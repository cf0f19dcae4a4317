-- Schema v6 (PostgreSQL dialect of migrations/0006_review_requests.sql): review requests, one row per reviewer
-- per request. The row says whether its link was used and for which decision, marked in the same transaction as
-- the decision itself (under the run's row lock). Keys lead with the tenant; the rows go with their run.
CREATE TABLE review_requests (
    tenant_id    TEXT COLLATE "C" NOT NULL,
    request_id   TEXT COLLATE "C" NOT NULL,
    reviewer     TEXT COLLATE "C" NOT NULL,  -- the subject the link is bound to
    run_id       TEXT COLLATE "C" NOT NULL,
    step_id      TEXT NOT NULL,
    gate         TEXT NOT NULL,
    reason       TEXT,
    requested_by TEXT NOT NULL,  -- the principal that asked for the review
    created_at   TEXT COLLATE "C" NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT,           -- NULL while the link is unused
    decision     TEXT,           -- the decision the link recorded
    PRIMARY KEY (tenant_id, request_id, reviewer),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE INDEX review_requests_by_run ON review_requests (tenant_id, run_id, created_at);
