-- Up Migration

-- The lead engine v2 numbers its read-model writes: a write older than the row's revision (a
-- late retry) changes nothing, so an accepted lead never falls back into the review queue.
ALTER TABLE leads ADD COLUMN revision bigint NOT NULL DEFAULT 0;

-- Down Migration
ALTER TABLE leads DROP COLUMN revision;
