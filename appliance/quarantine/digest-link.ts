/**
 * Signed sign-in links for the quarantine digest: a user who follows the link from their
 * digest gets a session on the End User Web Interface (28443) limited to the one address the
 * digest was sent to, without a password. The token is `v1.<payload>.<mac>`: the payload is
 * base64url JSON `{"a": address, "e": expiry in Unix seconds}`, the mac HMAC-SHA256 over
 * "parapet-digest-link\n" + payload with the node's link key (`config/link.key`, 32 random
 * bytes in hex, mode 0600, created on first use). The digest job signs, the web service
 * verifies; both run on the same node and read the same key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ParapetError } from '../../filter/index.js';

/** Longest token accepted (a 320-character address makes ~500). */
export const MAX_DIGEST_LINK_CHARS = 1024;
const CONTEXT = 'parapet-digest-link\n';
const ADDRESS = /^[^\s@<>]{1,64}@[a-z0-9.-]{1,253}$/;

/** The key file under the node's config folder. */
export const linkKeyPath = (configDir: string): string => join(configDir, 'link.key');

/** The node's link key, created (mode 0600) on first use; every caller gets the same key. */
export async function linkKey(configDir: string): Promise<Buffer> {
  const path = linkKeyPath(configDir);
  // 'wx' fails when another process made the key first: then that key is read below.
  await writeFile(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch(
    (err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new ParapetError('ERR_INPUT_UNREADABLE', `${path}: cannot create the link key`, {
          cause: err,
        });
      }
    },
  );
  const key = Buffer.from((await readFile(path, 'utf8')).trim(), 'hex');
  if (key.length < 16) {
    throw new ParapetError('ERR_INPUT_UNREADABLE', `${path}: not a hex key of 16 bytes or more`);
  }
  return key;
}

const mac = (key: Buffer, payload: string): string =>
  createHmac('sha256', key).update(CONTEXT).update(payload).digest('base64url');

/** A token for `address` valid until `expiresAt` (whole seconds). */
export function signDigestLink(key: Buffer, address: string, expiresAt: Date): string {
  const a = address.trim().toLowerCase();
  if (!ADDRESS.test(a))
    throw new ParapetError('ERR_QUEUE_INVALID', `not a mail address: ${a.slice(0, 80)}`);
  const payload = Buffer.from(
    JSON.stringify({ a, e: Math.floor(expiresAt.getTime() / 1000) }),
  ).toString('base64url');
  return `v1.${payload}.${mac(key, payload)}`;
}

export type DigestLinkCheck =
  | { readonly ok: true; readonly address: string; readonly expiresAt: Date }
  | { readonly ok: false; readonly reason: 'malformed' | 'signature' | 'expired' };

/**
 * Checks a token: the signature first (a wrong key and a changed payload look alike), then
 * the expiry against `now`. Never throws on bad input.
 */
export function verifyDigestLink(key: Buffer, token: string, now = new Date()): DigestLinkCheck {
  if (token.length > MAX_DIGEST_LINK_CHARS) return { ok: false, reason: 'malformed' };
  const m = /^v1\.([A-Za-z0-9_-]{1,900})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (m === null) return { ok: false, reason: 'malformed' };
  const [, payload = '', sig = ''] = m;
  const want = Buffer.from(mac(key, payload));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    return { ok: false, reason: 'signature' };
  }
  let fields: unknown;
  try {
    fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const f = fields as { a?: unknown; e?: unknown } | null;
  if (
    f === null ||
    typeof f !== 'object' ||
    typeof f.a !== 'string' ||
    !ADDRESS.test(f.a) ||
    typeof f.e !== 'number' ||
    !Number.isSafeInteger(f.e)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (f.e * 1000 <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, address: f.a, expiresAt: new Date(f.e * 1000) };
}

/**
 * The link a digest carries: `<base>/api/v1/session/link?token=…[&message=ID]` (base:
 * https://host:28443). With a message id the End User Web Interface opens on that message.
 */
export function digestLinkUrl(base: string, token: string, messageId?: string): string {
  const url = `${base.replace(/\/+$/, '')}/api/v1/session/link?token=${encodeURIComponent(token)}`;
  return messageId === undefined ? url : `${url}&message=${encodeURIComponent(messageId)}`;
}
