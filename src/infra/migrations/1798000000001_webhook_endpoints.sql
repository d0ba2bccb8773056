-- Up Migration

-- Outbound webhooks (Standard Webhooks): endpoints admins subscribe to lead events, one outbox
-- row per (endpoint, event) written in the transaction that records the event, and every
-- delivery attempt. The outbox row id is the delivery's stable `webhook-id`.
CREATE TABLE webhook_endpoints (
  id                text PRIMARY KEY,
  url               text NOT NULL,
  events            text[] NOT NULL,
  description       text,
  -- The signing secret, AES-256-GCM encrypted with the payload key (src/leads/webhooks.ts); never answered again.
  secret_encrypted  text NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  deleted_at        timestamptz
);

CREATE TABLE webhook_outbox (
  id             text PRIMARY KEY,
  endpoint_id    text NOT NULL REFERENCES webhook_endpoints (id),
  -- What happened, once per endpoint: a retried recording writes no second row.
  event_key      text NOT NULL,
  event_type     text NOT NULL,
  lead_id        text,
  payload        jsonb NOT NULL,
  status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
  attempts       integer NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  dispatched_at  timestamptz,
  delivered_at   timestamptz,
  UNIQUE (endpoint_id, event_key)
);
CREATE INDEX webhook_outbox_undispatched_idx ON webhook_outbox (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_outbox_endpoint_idx ON webhook_outbox (endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
  outbox_id    text NOT NULL REFERENCES webhook_outbox (id),
  attempt      integer NOT NULL,
  at           timestamptz NOT NULL DEFAULT now(),
  status_code  integer,
  error        text,
  duration_ms  integer NOT NULL,
  PRIMARY KEY (outbox_id, attempt)
);

-- Down Migration
DROP TABLE webhook_attempts;
DROP TABLE webhook_outbox;
DROP TABLE webhook_endpoints;
