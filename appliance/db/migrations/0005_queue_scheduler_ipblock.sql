-- Outbound mail the node sends itself: released quarantine messages, digests, notifications.
-- dedupe_key makes "approve twice" one delivery: the second insert conflicts and is dropped.
CREATE TABLE outbound_queue (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  node_id text NOT NULL,
  kind text NOT NULL CHECK (kind IN ('release', 'digest', 'notification', 'forward')),
  dedupe_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  sender text NOT NULL,
  recipients text[] NOT NULL,
  -- the message file on the node (path) or, for small generated mail, the message itself
  path text,
  body bytea,
  status text NOT NULL DEFAULT 'queued'
    CHECK (status IN ('queued', 'sending', 'delivered', 'failed', 'deleted')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  delivered_at timestamptz,
  CHECK (path IS NOT NULL OR body IS NOT NULL)
);
CREATE INDEX outbound_queue_due ON outbound_queue (next_attempt_at) WHERE status = 'queued';

-- One row per scheduled-job run and its outcome (the jobs themselves are configuration).
CREATE TABLE scheduler_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job text NOT NULL,
  node_id text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome text NOT NULL DEFAULT 'running'
    CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
  message text,
  details jsonb
);
CREATE INDEX scheduler_runs_job ON scheduler_runs (job, started_at DESC);

-- IP Blocker entries: an address or network, what to answer, why, and until when.
CREATE TABLE ipblock_entries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  network cidr NOT NULL UNIQUE,
  action text NOT NULL DEFAULT 'reject' CHECK (action IN ('reject', 'defer')),
  source text NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'reputation', 'dnsbl')),
  reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  created_by text,
  expires_at timestamptz
);
-- "Which entry contains this client address?" (network >>= address).
CREATE INDEX ipblock_entries_network ON ipblock_entries USING gist (network inet_ops);
