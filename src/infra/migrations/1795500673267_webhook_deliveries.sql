-- Up Migration

-- Signatures of verified webhook deliveries, kept until their timestamp leaves the replay
-- window: the same signed delivery is accepted once.
CREATE TABLE webhook_deliveries (
  signature   text PRIMARY KEY,
  signed_at   timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_deliveries_expiry_idx ON webhook_deliveries (expires_at);

-- Down Migration
DROP TABLE webhook_deliveries;
