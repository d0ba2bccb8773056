-- Up Migration

-- Ingestion does not wait on Temporal: an event is stored first, then delivered to the lead's
-- workflow (a signal). `delivered_at` stays null until Temporal confirmed the signal; the relay in
-- the worker delivers those, oldest first per lead (`seq`). Events stored before this migration
-- were signalled when they came.
ALTER TABLE lead_events ADD COLUMN seq bigserial;
ALTER TABLE lead_events ADD COLUMN delivered_at timestamptz;
UPDATE lead_events SET delivered_at = received_at;
CREATE INDEX lead_events_undelivered_idx ON lead_events (seq) WHERE delivered_at IS NULL;

-- Down Migration
DROP INDEX lead_events_undelivered_idx;
ALTER TABLE lead_events DROP COLUMN delivered_at;
ALTER TABLE lead_events DROP COLUMN seq;
