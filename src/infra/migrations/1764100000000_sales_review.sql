-- Up Migration

-- The sales hand-off: who owns a review, where it stands against its SLA, what earned the score.
ALTER TABLE leads
  ADD COLUMN owner              text,
  ADD COLUMN review_started_at  timestamptz,
  ADD COLUMN sla_due_at         timestamptz,
  ADD COLUMN sla_state          text,
  ADD COLUMN sla_breaches       integer NOT NULL DEFAULT 0,
  ADD COLUMN score_breakdown    jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN last_reject_reason text;

-- Round-robin owner per review; the row makes a retried assignment give the same owner.
CREATE SEQUENCE owner_round_robin;
CREATE TABLE review_owners (
  lead_id    text NOT NULL REFERENCES leads (id),
  review_no  integer NOT NULL,
  owner      text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (lead_id, review_no)
);

-- SLA expiries: level 1 reminded sales, level 2 told the manager.
CREATE TABLE review_sla_breaches (
  lead_id    text NOT NULL REFERENCES leads (id),
  review_no  integer NOT NULL,
  level      integer NOT NULL,
  at         timestamptz NOT NULL,
  PRIMARY KEY (lead_id, review_no, level)
);

-- Down Migration
DROP TABLE review_sla_breaches;
DROP TABLE review_owners;
DROP SEQUENCE owner_round_robin;
ALTER TABLE leads
  DROP COLUMN owner, DROP COLUMN review_started_at, DROP COLUMN sla_due_at, DROP COLUMN sla_state,
  DROP COLUMN sla_breaches, DROP COLUMN score_breakdown, DROP COLUMN last_reject_reason;
