/**
 * Batches travel to PostgreSQL as one jsonb parameter (expanded with jsonb_to_recordset): one
 * round trip per batch and no limit on the number of bind parameters.
 */

/**
 * PostgreSQL's text and jsonb refuse NUL characters and unpaired UTF-16 surrogates, which a
 * hostile subject can carry; JSON.stringify writes both as \u escapes, so they are cheap to
 * detect. Only then is the batch serialised again with the offending characters replaced.
 */
const UNSTORABLE_ESCAPE = /\\u(0000|d[89a-f])/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function storableJson(rows: readonly unknown[]): string {
  const json = JSON.stringify(rows);
  if (!UNSTORABLE_ESCAPE.test(json)) return json;
  return JSON.stringify(rows, (_key, value: unknown) =>
    typeof value === 'string'
      ? value.replaceAll('\0', '').replace(LONE_SURROGATE, '\uFFFD')
      : value,
  );
}
