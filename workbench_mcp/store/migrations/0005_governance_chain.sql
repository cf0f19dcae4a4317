-- Schema v5: governance rows (denials, partial approvals, budget raises, the pinned policy) are hash-chained
-- like the audit rows, per (tenant, run) in id order: `link` is written by the same insert as the row
-- (ledger/store_rows.link_governance). Rows stored before this version get their links computed when a store
-- with the ledger opens. Refusals naming no run (run_id '') form one chain per tenant.
ALTER TABLE governance ADD COLUMN link TEXT;
