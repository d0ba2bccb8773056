-- Up Migration

-- What sales reported after accepting a lead: won (with an amount) or lost (with a reason).
-- One row per review: a lost lead that recycles can be escalated, accepted and closed again.
CREATE TABLE lead_outcomes (
  lead_id     text NOT NULL REFERENCES leads (id),
  review_no   integer NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('won', 'lost')),
  amount      numeric(14, 2),
  currency    text,
  reason      text,
  recycle     boolean NOT NULL DEFAULT false,
  decided_by  text NOT NULL,
  decided_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (lead_id, review_no)
);
CREATE INDEX lead_outcomes_decided_at_idx ON lead_outcomes (decided_at);

-- Down Migration
DROP TABLE lead_outcomes;
