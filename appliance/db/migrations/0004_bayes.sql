-- The central Bayes store. Tokens are keyed by their 53-bit hash (filter/scan/bayes/token-hash.ts):
-- no message words at rest, fixed-size rows.
CREATE TABLE bayes_tokens (
  token bigint PRIMARY KEY,
  nspam bigint NOT NULL DEFAULT 0 CHECK (nspam >= 0),
  nham bigint NOT NULL DEFAULT 0 CHECK (nham >= 0),
  last_seen timestamptz NOT NULL DEFAULT now()
);
-- Expiry drops tokens not seen for a while.
CREATE INDEX bayes_tokens_last_seen ON bayes_tokens (last_seen);

-- How many messages were learned; one row.
CREATE TABLE bayes_totals (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  nspam bigint NOT NULL DEFAULT 0,
  nham bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO bayes_totals (id) VALUES (true);
