-- Up Migration

-- CSV imports (POST /v1/imports): the accepted rows are staged here before the 202, and the
-- import's workflow (import-<id>) pages through them. `outcome` is written in the same statement
-- that inserts the new leads, so a page retried after a crash counts no lead twice; `done` once
-- the lead's workflow is started (or its profile updated). A done row keeps no profile (PII).
CREATE TABLE imports (
  id           text PRIMARY KEY,
  sequence     text NOT NULL,
  status       text NOT NULL,
  rows         integer NOT NULL DEFAULT 0,
  refused      integer NOT NULL DEFAULT 0,
  created_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);

CREATE TABLE import_rows (
  import_id  text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  row_no     integer NOT NULL,
  lead_id    text NOT NULL,
  lead       jsonb,
  outcome    text,
  done       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (import_id, row_no)
);
CREATE INDEX import_rows_pending_idx ON import_rows (import_id, row_no) WHERE NOT done;

-- Refused rows, one line per problem, naming the column.
CREATE TABLE import_errors (
  import_id  text NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  row_no     integer NOT NULL,
  field      text NOT NULL,
  message    text NOT NULL
);
CREATE INDEX import_errors_row_idx ON import_errors (import_id, row_no);

-- Down Migration
DROP TABLE import_errors;
DROP TABLE import_rows;
DROP TABLE imports;
