-- Schema v6: review requests (README "Human review"), one row per reviewer per request. A review link points at
-- its row; the row says whether the link was used and for which decision, written in the same transaction as the
-- decision itself, so a link never ends up used without a decision or a decision with a reusable link.
CREATE TABLE review_requests (
    tenant_id    TEXT NOT NULL,
    request_id   TEXT NOT NULL,
    reviewer     TEXT NOT NULL,  -- the subject the link is bound to
    run_id       TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    gate         TEXT NOT NULL,
    reason       TEXT,
    requested_by TEXT NOT NULL,  -- the principal that asked for the review
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT,           -- NULL while the link is unused
    decision     TEXT,           -- the decision the link recorded
    PRIMARY KEY (tenant_id, request_id, reviewer),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, run_id) ON DELETE CASCADE
);

CREATE INDEX review_requests_by_run ON review_requests (tenant_id, run_id, created_at);
