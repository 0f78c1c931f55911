-- The message log shipped from every node's local spool (filter/log/message-log.ts), exactly
-- once per (node_id, seq): the shipper inserts with ON CONFLICT DO NOTHING.
CREATE TABLE message_log (
  node_id text NOT NULL,
  seq bigint NOT NULL,
  id text NOT NULL,
  ts timestamptz NOT NULL,
  queue_id text,
  client_address text,
  client_name text,
  helo text,
  sender text,
  recipients text[] NOT NULL DEFAULT '{}',
  subject text,
  size_bytes bigint NOT NULL DEFAULT 0,
  verdict text,
  disposition text NOT NULL,
  reason text,
  score double precision,
  symbols jsonb NOT NULL DEFAULT '[]',
  rule text,
  error_code text,
  timings_ms jsonb NOT NULL DEFAULT '{}',
  shipped_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (node_id, seq)
);
-- Reports and roll-ups read time ranges; search looks up a message by its X-Parapet-Id, by
-- sender, and the IP Blocker asks for a client's recent mail.
CREATE INDEX message_log_ts ON message_log (ts);
CREATE INDEX message_log_id ON message_log (id);
CREATE INDEX message_log_sender ON message_log (lower(sender), ts);
CREATE INDEX message_log_client ON message_log (client_address, ts);

-- Roll-ups that reports query instead of scanning message_log: counts per bucket, node,
-- disposition and verdict. Recomputed by parapet_rollup_message_log().
CREATE TABLE message_log_hourly (
  bucket timestamptz NOT NULL,
  node_id text NOT NULL,
  disposition text NOT NULL,
  verdict text NOT NULL,
  messages bigint NOT NULL,
  recipients bigint NOT NULL,
  bytes bigint NOT NULL,
  score_sum double precision NOT NULL,
  PRIMARY KEY (bucket, node_id, disposition, verdict)
);
CREATE TABLE message_log_daily (
  bucket date NOT NULL,
  node_id text NOT NULL,
  disposition text NOT NULL,
  verdict text NOT NULL,
  messages bigint NOT NULL,
  recipients bigint NOT NULL,
  bytes bigint NOT NULL,
  score_sum double precision NOT NULL,
  PRIMARY KEY (bucket, node_id, disposition, verdict)
);

-- Recomputes the hourly and daily roll-ups of every UTC day that [p_from, p_to) touches, from
-- message_log. Recomputing (rather than adding) makes it idempotent and picks up records that
-- arrived late (a node that shipped its backlog after an outage). Serialised by a lock so two
-- schedulers cannot interleave their delete/insert.
CREATE FUNCTION parapet_rollup_message_log(p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  day_from timestamptz := date_trunc('day', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  day_to timestamptz :=
    (date_trunc('day', (p_to - interval '1 microsecond') AT TIME ZONE 'UTC') + interval '1 day')
    AT TIME ZONE 'UTC';
  hours integer;
BEGIN
  IF p_to <= p_from THEN
    RETURN 0;
  END IF;
  PERFORM pg_advisory_xact_lock(1347571796, 2);
  DELETE FROM message_log_hourly WHERE bucket >= day_from AND bucket < day_to;
  INSERT INTO message_log_hourly
    SELECT date_trunc('hour', ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', node_id, disposition,
           coalesce(verdict, ''), count(*), sum(cardinality(recipients)), sum(size_bytes),
           coalesce(sum(score), 0)
    FROM message_log
    WHERE ts >= day_from AND ts < day_to
    GROUP BY 1, 2, 3, 4;
  GET DIAGNOSTICS hours = ROW_COUNT;
  DELETE FROM message_log_daily
    WHERE bucket >= (day_from AT TIME ZONE 'UTC')::date AND bucket < (day_to AT TIME ZONE 'UTC')::date;
  INSERT INTO message_log_daily
    SELECT (bucket AT TIME ZONE 'UTC')::date, node_id, disposition, verdict, sum(messages),
           sum(recipients), sum(bytes), sum(score_sum)
    FROM message_log_hourly
    WHERE bucket >= day_from AND bucket < day_to
    GROUP BY 1, 2, 3, 4;
  RETURN hours;
END;
$$;
