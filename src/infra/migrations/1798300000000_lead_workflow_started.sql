-- Up Migration

-- When the lead's workflow was known to be started. A lead created while Temporal did not answer
-- (503 to the client) is stored without one; the worker's relay starts it (docs/reliability.md),
-- so a client that never repeats the call loses no lead. Leads from before were started.
ALTER TABLE leads ADD COLUMN workflow_started_at timestamptz;
UPDATE leads SET workflow_started_at = created_at;
CREATE INDEX leads_workflow_not_started_idx ON leads (created_at) WHERE workflow_started_at IS NULL;

-- Down Migration
DROP INDEX leads_workflow_not_started_idx;
ALTER TABLE leads DROP COLUMN workflow_started_at;
