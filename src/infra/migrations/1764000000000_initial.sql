-- Up Migration

-- Leads: the profile as enrolled, and the read model the workflow keeps current.
CREATE TABLE leads (
  id                text PRIMARY KEY,
  email             text NOT NULL,
  first_name        text,
  last_name         text,
  company           text,
  timezone          text,
  attributes        jsonb NOT NULL DEFAULT '{}'::jsonb,
  enrol_sequence    text NOT NULL,
  stage             text NOT NULL DEFAULT 'nurturing',
  score             integer NOT NULL DEFAULT 0,
  review_count      integer NOT NULL DEFAULT 0,
  unsubscribed      boolean NOT NULL DEFAULT false,
  sequence_id       text,
  sequence_version  integer,
  sequence_step     integer,
  next_action_at    timestamptz,
  stage_changed_at  timestamptz NOT NULL DEFAULT now(),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX leads_stage_waiting_idx ON leads (stage, stage_changed_at);

-- Engagement events as received; (lead, eventId) is the dedupe key.
CREATE TABLE lead_events (
  lead_id      text NOT NULL REFERENCES leads (id),
  event_id     text NOT NULL,
  type         text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  received_at  timestamptz NOT NULL DEFAULT now(),
  properties   jsonb NOT NULL DEFAULT '{}'::jsonb,
  PRIMARY KEY (lead_id, event_id)
);

-- Stage changes, written by the workflow through an activity; retries insert nothing twice.
CREATE TABLE lead_transitions (
  id          bigserial PRIMARY KEY,
  lead_id     text NOT NULL REFERENCES leads (id),
  from_stage  text,
  to_stage    text NOT NULL,
  reason      text NOT NULL,
  score       integer NOT NULL,
  at          timestamptz NOT NULL,
  UNIQUE (lead_id, at, to_stage)
);

-- Sales decisions with reasons: one per lead, review and kind.
CREATE TABLE sales_decisions (
  lead_id    text NOT NULL REFERENCES leads (id),
  review_no  integer NOT NULL,
  decision   text NOT NULL,
  reason     text,
  decided_by text NOT NULL,
  notes      text,
  at         timestamptz NOT NULL,
  PRIMARY KEY (lead_id, review_no, decision)
);

-- Every email we send; the send key makes a retried activity a no-op.
CREATE TABLE email_outbox (
  send_key     text PRIMARY KEY,
  lead_id      text NOT NULL,
  kind         text NOT NULL,
  template     text NOT NULL,
  to_address   text NOT NULL,
  subject      text,
  status       text NOT NULL DEFAULT 'pending',
  message_id   text,
  attempts     integer NOT NULL DEFAULT 0,
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  sent_at      timestamptz
);
CREATE INDEX email_outbox_lead_idx ON email_outbox (lead_id, created_at);

-- Addresses that get no marketing email (unsubscribes, bounces).
CREATE TABLE suppressions (
  email       text PRIMARY KEY,
  reason      text NOT NULL,
  lead_id     text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- What the embedded SMTP sink received (development and tests only).
CREATE TABLE mailbox (
  id           bigserial PRIMARY KEY,
  message_id   text UNIQUE,
  from_address text NOT NULL,
  to_addresses text[] NOT NULL,
  subject      text NOT NULL,
  text_body    text,
  html_body    text,
  headers      jsonb NOT NULL DEFAULT '{}'::jsonb,
  received_at  timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE mailbox;
DROP TABLE suppressions;
DROP TABLE email_outbox;
DROP TABLE sales_decisions;
DROP TABLE lead_transitions;
DROP TABLE lead_events;
DROP TABLE leads;
