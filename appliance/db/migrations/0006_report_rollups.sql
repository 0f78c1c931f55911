-- Roll-ups for the Reports tab (issue 6): message categories, top-N lists, IP-blocked
-- connections and quarantine size, so no report ever reads message_log.

-- What the data plane's record may carry beyond 0002's columns (filled when the record has
-- them; see message-log-repo.ts): the policy's logmarks, the virus names and the attachment
-- types. A constant default makes ADD COLUMN instant on a big table.
ALTER TABLE message_log
  ADD COLUMN marks text[] NOT NULL DEFAULT '{}',
  ADD COLUMN virus_names text[] NOT NULL DEFAULT '{}',
  ADD COLUMN attachment_types text[] NOT NULL DEFAULT '{}';

-- A message's report category. Order matters: a virus is a virus whatever its score; spam is
-- what the policy marked as spam, or (a record without marks) what scored at or above the
-- default threshold of 5; a refusal by policy that is neither is "blocked".
CREATE FUNCTION parapet_message_category(
  p_disposition text, p_score double precision, p_symbols jsonb, p_marks text[],
  p_virus_names text[])
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN cardinality(p_virus_names) > 0 OR p_symbols @> '[{"name":"VIRUS_FOUND"}]' THEN 'virus'
    WHEN p_marks && ARRAY['spam', 'spam-high']
      OR (cardinality(p_marks) = 0 AND coalesce(p_score, 0) >= 5) THEN 'spam'
    WHEN p_disposition = 'rejected' THEN 'blocked'
    WHEN p_disposition IN ('tempfailed', 'aborted') THEN 'tempfail'
    ELSE 'clean'
  END
$$;

-- Messages per category. Hourly for all mail (short ranges); daily per scope, where scope ''
-- is all mail, a bare domain ('example.com') the messages with a recipient in it (once per
-- message), and an address ('user@example.com') that recipient's messages: group
-- administrators' reports read only their scopes.
CREATE TABLE report_category_hourly (
  bucket timestamptz NOT NULL,
  node_id text NOT NULL,
  category text NOT NULL,
  messages bigint NOT NULL,
  bytes bigint NOT NULL,
  quarantined bigint NOT NULL,
  PRIMARY KEY (bucket, node_id, category)
);
CREATE TABLE report_category_daily (
  scope text NOT NULL,
  bucket date NOT NULL,
  node_id text NOT NULL,
  category text NOT NULL,
  messages bigint NOT NULL,
  bytes bigint NOT NULL,
  quarantined bigint NOT NULL,
  quarantined_bytes bigint NOT NULL,
  PRIMARY KEY (scope, bucket, node_id, category)
);

-- Top-N lists: per UTC day, node, scope ('' or a recipient domain) and dimension, the
-- busiest keys only (500 for all mail, 100 per domain), which bounds a 30-day report to a few
-- thousand rows whatever the traffic. Dimensions: sender_spam, sender_virus, relay_spam,
-- relay_virus (client address), recipient, recipient_spam, virus, rule (the deciding policy
-- rule), mark (logmarks), attachment_type.
CREATE TABLE report_top_daily (
  dimension text NOT NULL,
  scope text NOT NULL,
  bucket date NOT NULL,
  node_id text NOT NULL,
  key text NOT NULL,
  messages bigint NOT NULL,
  PRIMARY KEY (dimension, scope, bucket, node_id, key)
);

-- Refused connections per day from each node's IP Blocker log (log/ipblock.jsonl), recomputed
-- like the message-log roll-up. The busiest clients per day are kept by address; the rest are
-- summed under client '' so totals stay exact.
CREATE TABLE ipblock_daily (
  bucket date NOT NULL,
  node_id text NOT NULL,
  client text NOT NULL,
  source text NOT NULL,
  action text NOT NULL,
  connections bigint NOT NULL,
  PRIMARY KEY (bucket, node_id, client, source, action)
);

-- The quarantine's size as the roll-up job sees it (messages and bytes held, per node); one
-- row per day, overwritten by each run, so the last run of a day is that day's figure.
CREATE TABLE quarantine_size_daily (
  bucket date NOT NULL,
  node_id text NOT NULL,
  held bigint NOT NULL,
  held_bytes bigint NOT NULL,
  measured_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (bucket, node_id)
);

-- 0002's roll-up, extended: the same idempotent recompute of every UTC day [p_from, p_to)
-- touches, now also filling the report tables above (one day at a time, so a backlog of a
-- month needs no more working memory than one day).
CREATE OR REPLACE FUNCTION parapet_rollup_message_log(p_from timestamptz, p_to timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  day_from timestamptz := date_trunc('day', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  day_to timestamptz :=
    (date_trunc('day', (p_to - interval '1 microsecond') AT TIME ZONE 'UTC') + interval '1 day')
    AT TIME ZONE 'UTC';
  d timestamptz;
  hours integer;
BEGIN
  IF p_to <= p_from THEN
    RETURN 0;
  END IF;
  PERFORM pg_advisory_xact_lock(1347571796, 2);
  -- A day's grouping fits in memory instead of spilling to disk (transaction-local setting).
  PERFORM set_config('work_mem', '64MB', true);
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

  DELETE FROM report_category_hourly WHERE bucket >= day_from AND bucket < day_to;
  DELETE FROM report_category_daily
    WHERE bucket >= (day_from AT TIME ZONE 'UTC')::date AND bucket < (day_to AT TIME ZONE 'UTC')::date;
  DELETE FROM report_top_daily
    WHERE bucket >= (day_from AT TIME ZONE 'UTC')::date AND bucket < (day_to AT TIME ZONE 'UTC')::date;

  d := day_from;
  WHILE d < day_to LOOP
    -- One day's messages, classified once, with what the inserts below need. Top-list
    -- entries travel as 'dimension<TAB>key' strings in one array per message, so counting
    -- them is one unnest and one hash aggregate (much cheaper than a subquery per entry).
    DROP TABLE IF EXISTS pg_temp.parapet_rollup_day;
    CREATE TEMP TABLE parapet_rollup_day ON COMMIT DROP AS
      SELECT c.hour, c.node_id, c.category, c.size_bytes, c.quarantined, c.rcpts, c.domains,
             array_remove(ARRAY[
               CASE WHEN c.category = 'spam' THEN 'sender_spam' || E'\t' || c.sender END,
               CASE WHEN c.category = 'virus' THEN 'sender_virus' || E'\t' || c.sender END,
               CASE WHEN c.category = 'spam' THEN 'relay_spam' || E'\t' || c.client END,
               CASE WHEN c.category = 'virus' THEN 'relay_virus' || E'\t' || c.client END,
               'rule' || E'\t' || c.rule], NULL)
             || CASE WHEN cardinality(c.viruses) = 0 THEN '{}'::text[]
                     ELSE ARRAY(SELECT 'virus' || E'\t' || left(n, 320) FROM unnest(c.viruses) AS n)
                END
             || CASE WHEN cardinality(c.marks) = 0 THEN '{}'::text[]
                     ELSE ARRAY(SELECT 'mark' || E'\t' || left(k, 320) FROM unnest(c.marks) AS k)
                END
             || CASE WHEN cardinality(c.attachments) = 0 THEN '{}'::text[]
                     ELSE ARRAY(SELECT 'attachment_type' || E'\t' || left(a, 320)
                                FROM unnest(c.attachments) AS a)
                END AS pairs
      FROM (
        SELECT date_trunc('hour', l.ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS hour,
               l.node_id,
               parapet_message_category(l.disposition, l.score, l.symbols, l.marks, v.names)
                 AS category,
               l.size_bytes,
               l.disposition = 'quarantined' AS quarantined,
               left(coalesce(nullif(lower(l.sender), ''), '<>'), 320) AS sender,
               left(l.client_address, 64) AS client,
               r.rcpts,
               -- The common single-recipient case without a subquery.
               CASE WHEN cardinality(r.rcpts) = 1
                      THEN array_remove(ARRAY[split_part(r.rcpts[1], '@', 2)], '')
                    ELSE ARRAY(SELECT DISTINCT split_part(x, '@', 2) FROM unnest(r.rcpts) AS x
                               WHERE split_part(x, '@', 2) <> '')
               END AS domains,
               left(l.rule, 320) AS rule,
               l.marks,
               v.names AS viruses,
               CASE WHEN cardinality(l.attachment_types) > 0 THEN l.attachment_types
                    -- jsonpath first: most records have no attachment finding at all.
                    WHEN NOT jsonb_path_exists(l.symbols,
                      '$[*] ? (@.name like_regex "^(ATTACH_|FILE_|NESTED_|ARCHIVE_)")')
                      THEN '{}'::text[]
                    ELSE ARRAY(SELECT s->>'name' FROM jsonb_array_elements(l.symbols) AS s
                               WHERE s->>'name' ~ '^(ATTACH_|FILE_|NESTED_|ARCHIVE_)')
               END AS attachments
        FROM message_log AS l
        CROSS JOIN LATERAL (
          SELECT CASE WHEN cardinality(l.recipients) = 1
                        THEN ARRAY[left(lower(l.recipients[1]), 320)]
                      ELSE ARRAY(SELECT DISTINCT left(lower(x), 320) FROM unnest(l.recipients) AS x)
                 END AS rcpts) AS r
        CROSS JOIN LATERAL (
          -- Virus names: the record's own, else the VIRUS_FOUND finding's evidence when a
          -- record carries it, else 'unknown'.
          SELECT CASE
            WHEN cardinality(l.virus_names) > 0 THEN l.virus_names
            WHEN l.symbols @> '[{"name":"VIRUS_FOUND"}]' THEN coalesce(
              (SELECT array_agg(DISTINCT trim(n)) FROM jsonb_array_elements(l.symbols) AS s,
                 regexp_split_to_table(s->>'evidence', ',') AS n
               WHERE s->>'name' = 'VIRUS_FOUND' AND trim(n) <> ''),
              ARRAY['unknown'])
            ELSE '{}'::text[]
          END AS names) AS v
        WHERE l.ts >= d AND l.ts < d + interval '1 day'
      ) AS c;

    INSERT INTO report_category_hourly
      SELECT hour, node_id, category, count(*), sum(size_bytes), count(*) FILTER (WHERE quarantined)
      FROM parapet_rollup_day
      GROUP BY 1, 2, 3;

    -- The planner cannot estimate groups over unnest() and picks a disk sort for what is a
    -- small hash table (a few rows per recipient); the setting lasts for this statement.
    PERFORM set_config('enable_sort', 'off', true);
    INSERT INTO report_category_daily
      SELECT scope, (d AT TIME ZONE 'UTC')::date, node_id, category, count(*), sum(size_bytes),
             count(*) FILTER (WHERE quarantined),
             coalesce(sum(size_bytes) FILTER (WHERE quarantined), 0)
      FROM (SELECT node_id, category, size_bytes, quarantined,
                   unnest(ARRAY[''] || domains || rcpts) AS scope
            FROM parapet_rollup_day) AS s
      GROUP BY 1, 2, 3, 4;
    PERFORM set_config('enable_sort', 'on', true);

    INSERT INTO report_top_daily (dimension, scope, bucket, node_id, key, messages)
      SELECT dimension, scope, (d AT TIME ZONE 'UTC')::date, node_id, key, n
      FROM (
        SELECT dimension, scope, node_id, key, n,
               row_number() OVER (PARTITION BY dimension, scope, node_id ORDER BY n DESC, key)
                 AS place
        FROM (
          SELECT split_part(pair, E'\t', 1) AS dimension, scope, node_id,
                 substr(pair, strpos(pair, E'\t') + 1) AS key, count(*) AS n
          FROM (
            -- Sender, relay, virus, rule, mark and attachment entries count for all mail
            -- ('') and for each recipient domain of the message.
            SELECT node_id, scope, unnest(pairs) AS pair
            FROM (SELECT node_id, pairs, unnest(ARRAY[''] || domains) AS scope
                  FROM parapet_rollup_day WHERE cardinality(pairs) > 0) AS p
            UNION ALL
            -- Recipients count for all mail and for their own domain only.
            SELECT node_id,
                   unnest(CASE WHEN split_part(rcpt, '@', 2) = '' THEN ARRAY['']
                               ELSE ARRAY['', split_part(rcpt, '@', 2)] END) AS scope,
                   kind || E'\t' || rcpt AS pair
            FROM (SELECT node_id, rcpt,
                         unnest(CASE WHEN category = 'spam' THEN ARRAY['recipient', 'recipient_spam']
                                     ELSE ARRAY['recipient'] END) AS kind
                  FROM (SELECT node_id, category, unnest(rcpts) AS rcpt
                        FROM parapet_rollup_day) AS r) AS q
          ) AS entries
          GROUP BY 1, 2, 3, 4
        ) AS counted
      ) AS ranked
      WHERE place <= CASE WHEN scope = '' THEN 500 ELSE 100 END;

    d := d + interval '1 day';
  END LOOP;
  DROP TABLE IF EXISTS pg_temp.parapet_rollup_day;
  RETURN hours;
END;
$$;
