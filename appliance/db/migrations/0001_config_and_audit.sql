-- Versioned configuration (ARCHITECTURE.md "State and who owns it"): every change is a new row
-- with the next version; the newest row is the configuration in force. Nodes apply versions in
-- order and never go back, so `version` only grows.
CREATE TABLE config_versions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version bigint NOT NULL UNIQUE CHECK (version > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  author text NOT NULL,
  comment text,
  content jsonb NOT NULL
);

-- Who did what, when, to what, with the state before and after. Written in the same
-- transaction as the change it records.
CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  actor text NOT NULL,
  -- where the change came from: cli, manager, euwi, scheduler, node:<id> ...
  source text,
  action text NOT NULL,
  object_type text,
  object_id text,
  before jsonb,
  after jsonb,
  node_id text
);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, at DESC);
CREATE INDEX audit_log_actor ON audit_log (actor, at DESC);
