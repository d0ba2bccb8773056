-- Up Migration

-- Campaigns: a segment sent into a sequence by a durable workflow (campaign-<id>). The row is
-- what GET answers and what a repeated POST is compared with; the workflow writes its progress
-- after every page (`pages` is the revision: an older write changes nothing).
CREATE TABLE campaigns (
  id              text PRIMARY KEY,
  request         jsonb NOT NULL,
  sequence_id     text NOT NULL,
  sequence_version integer NOT NULL,
  segment         jsonb NOT NULL,
  rate_per_second integer NOT NULL,
  status          text NOT NULL DEFAULT 'running',
  matched         integer NOT NULL,
  enrolled        integer NOT NULL DEFAULT 0,
  skipped         jsonb NOT NULL DEFAULT '{}'::jsonb,
  failed          integer NOT NULL DEFAULT 0,
  cursor          text,
  pages           integer NOT NULL DEFAULT 0,
  started_at      timestamptz NOT NULL DEFAULT now(),
  finished_at     timestamptz,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_started_idx ON campaigns (started_at DESC);

-- Down Migration
DROP TABLE campaigns;
