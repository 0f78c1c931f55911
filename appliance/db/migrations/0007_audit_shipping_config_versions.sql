-- The web interfaces' and the CLI's audit log is written locally first ($PARAPET_HOME/log/
-- audit.jsonl) and shipped here by the database service, exactly once: source_key names the
-- line (its byte offset and a hash of its text), unique per node, so a re-sent batch is skipped.
ALTER TABLE audit_log ADD COLUMN ip text;
ALTER TABLE audit_log ADD COLUMN outcome text;
ALTER TABLE audit_log ADD COLUMN details jsonb;
ALTER TABLE audit_log ADD COLUMN source_key text;
CREATE UNIQUE INDEX audit_log_node_source_key ON audit_log (node_id, source_key)
  WHERE source_key IS NOT NULL;

-- Configuration versions recorded by a node from its local files: which node, and the hash of
-- the snapshot (a change is recorded once, however many times it is noticed).
ALTER TABLE config_versions ADD COLUMN node_id text;
ALTER TABLE config_versions ADD COLUMN content_hash text;
CREATE INDEX config_versions_node_hash ON config_versions (node_id, content_hash);
