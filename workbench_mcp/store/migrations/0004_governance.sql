-- Schema v4: governance side data (README "Governance"): refusals for authority or budget reasons, partial
-- approvals, budget raises and the policy a run is pinned to. Beside the trace, never inside it; no foreign
-- key, because a refused call may name no run of the tenant (run_id ''); a run's rows go when it is deleted.
CREATE TABLE governance (
    id             INTEGER PRIMARY KEY,  -- order of recording
    tenant_id      TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    at             TEXT NOT NULL,
    revision       INTEGER NOT NULL,     -- the run's revision once recorded: orders records among the events
    principal      TEXT NOT NULL,
    tool           TEXT NOT NULL,
    kind           TEXT NOT NULL,        -- denied, approval, rejection, budget_raised, policy_pinned, ...
    correlation_id TEXT,
    detail_json    TEXT NOT NULL         -- a JSON object: what was refused and why, who approved, limits
);

CREATE INDEX governance_by_run ON governance (tenant_id, run_id, id);
