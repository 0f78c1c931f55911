-- The shared Bayes store (issue 4): which messages were learned, and a version that moves with
-- every change of the counts so a node can tell whether its cached snapshot
-- ($PARAPET_HOME/bayes/tokens.json) is stale without reading the tokens.

-- Messages learned, by the key trainer.ts derives from a message: learning the same message
-- twice, on one node or on two at once, counts it once; learning it as the other class moves it.
CREATE TABLE bayes_learned (
  message_key text PRIMARY KEY,
  class text NOT NULL CHECK (class IN ('spam', 'ham')),
  learned_at timestamptz NOT NULL DEFAULT now()
);
-- Expiry forgets keys learned long ago, with the tokens nobody has seen since.
CREATE INDEX bayes_learned_learned_at ON bayes_learned (learned_at);

-- Bumped by every training step, import and expiry (not by last-seen updates, which do not
-- change what a scan computes).
ALTER TABLE bayes_totals ADD COLUMN version bigint NOT NULL DEFAULT 0;
