-- Metadata of quarantined messages (the file stays on the node that caught it, at `path`, until
-- consolidation). The id is the message's Parapet id, so forwarding a row twice is harmless.
CREATE TABLE quarantine (
  id text PRIMARY KEY,
  node_id text NOT NULL,
  ts timestamptz NOT NULL,
  queue_id text,
  client_address text,
  helo text,
  sender text,
  -- the envelope recipients, who own the message (lower case for exact owner lookups)
  recipients text[] NOT NULL DEFAULT '{}',
  -- what whole-part recipient searches match: each address, its `local@`, its `@domain` and
  -- each `.parent.domain` (filled by the repository)
  recipient_keys text[] NOT NULL DEFAULT '{}',
  -- the recipients space-joined, for substring search
  recipients_text text NOT NULL DEFAULT '',
  subject text,
  size_bytes bigint NOT NULL DEFAULT 0,
  reason text NOT NULL,
  score double precision,
  symbols jsonb NOT NULL DEFAULT '[]',
  rule text,
  virus_names text[] NOT NULL DEFAULT '{}',
  status text NOT NULL DEFAULT 'held'
    CHECK (status IN ('held', 'released', 'deleted', 'expired')),
  released_at timestamptz,
  released_by text,
  path text NOT NULL
);

-- The list view and every search page: newest first, keyset-paginated on (ts, id) within a
-- status, so the first page and every later page read one index range.
CREATE INDEX quarantine_status_ts ON quarantine (status, ts DESC, id DESC);
CREATE INDEX quarantine_recipient_keys ON quarantine USING gin (recipient_keys);
CREATE INDEX quarantine_virus ON quarantine USING gin (virus_names);
CREATE INDEX quarantine_score ON quarantine (score);
-- Sender searches by whole address (equality), by `local@` (prefix) and by domain (suffix, on
-- the reversed text).
CREATE INDEX quarantine_sender ON quarantine (lower(sender) text_pattern_ops);
CREATE INDEX quarantine_sender_rev ON quarantine (reverse(lower(sender)) text_pattern_ops);

-- Substring filters are estimated from the column statistics: with the default sample a rare
-- term looks common, and the planner then walks the (status, ts) index through a whole date
-- range instead of asking the trigram index. A larger sample keeps rare terms rare.
ALTER TABLE quarantine ALTER COLUMN sender SET STATISTICS 1000;
ALTER TABLE quarantine ALTER COLUMN subject SET STATISTICS 1000;
ALTER TABLE quarantine ALTER COLUMN recipients_text SET STATISTICS 1000;

-- Substring search (subject, sender, recipients) through trigram indexes when pg_trgm is
-- available (Debian's postgresql ships it in contrib; an external server may not, or may not
-- let us create it): searches then still work, scanning the (status, ts) index instead.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pg_trgm not created (insufficient privilege); substring search unindexed';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX quarantine_subject_trgm ON quarantine USING gin (subject gin_trgm_ops);
    CREATE INDEX quarantine_sender_trgm ON quarantine USING gin (sender gin_trgm_ops);
    CREATE INDEX quarantine_recipients_trgm ON quarantine USING gin (recipients_text gin_trgm_ops);
  END IF;
END;
$$;
