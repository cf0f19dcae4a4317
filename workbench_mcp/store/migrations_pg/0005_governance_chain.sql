-- Schema v5: governance rows are hash-chained per (tenant, run) like the audit rows.
ALTER TABLE governance ADD COLUMN link TEXT;
