-- Up Migration

-- What mail providers told us after a send (POST /v1/webhooks/email-feedback: the generic shape,
-- Amazon SES through SNS) and what the relay answered at send time (a 5xx, 4xx past the retries):
-- hard bounces, soft bounces, complaints, deliveries. `dedupe_key` makes a redelivered
-- notification (SNS retries, a sender's retry) change nothing. Soft bounces in a row since the
-- last delivery are counted from here; the suppression list says who gets no more mail.
CREATE TABLE email_feedback (
  id          bigserial PRIMARY KEY,
  dedupe_key  text NOT NULL UNIQUE,
  email       text NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint', 'delivery')),
  source      text NOT NULL,
  send_key    text,
  lead_id     text,
  detail      text,
  at          timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX email_feedback_email_idx ON email_feedback (email, at);
CREATE INDEX email_feedback_lead_idx ON email_feedback (lead_id, at);

-- Down Migration
DROP TABLE email_feedback;
