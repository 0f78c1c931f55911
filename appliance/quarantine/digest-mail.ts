/**
 * The quarantine digest as a MIME message: multipart/alternative with a plain-text and an
 * HTML part, both UTF-8 in base64 (subjects and senders are attacker-chosen text: base64
 * keeps any byte sequence and line length safe on the wire). Everything taken from a
 * quarantined message is HTML-escaped in the HTML part and stripped of control characters in
 * both, so a crafted subject cannot inject markup, headers or fake lines.
 */
import { randomBytes } from 'node:crypto';

export interface DigestListing {
  readonly id: string;
  readonly from: string | null;
  readonly subject: string | null;
  readonly time: Date;
  readonly reason: string;
  /** Signed one-click link into the End User Web Interface. */
  readonly url: string;
}

export interface DigestMailInput {
  /** The From header (an address). */
  readonly from: string;
  /** The one recipient the digest is for. */
  readonly to: string;
  readonly listings: readonly DigestListing[];
  /** Messages held for the address that this digest does not list (over the cap). */
  readonly more: number;
  /** Sign-in link to the whole quarantine. */
  readonly quarantineUrl: string;
  readonly now: Date;
  /** For the Message-ID. */
  readonly hostname: string;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One line of display text: controls and bidi overrides out, capped. */
export function displayText(text: string | null, max = 200): string {
  const clean = (text ?? '').replace(CONTROL, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${String(c.charCodeAt(0))};`);
}

/** An RFC 2047 encoded-word when the header text is not plain ASCII. */
function headerText(text: string): string {
  if (/^[\x20-\x7e]*$/.test(text)) return text;
  return `=?UTF-8?B?${Buffer.from(text, 'utf8').toString('base64')}?=`;
}

function base64Lines(text: string): string {
  const b64 = Buffer.from(text, 'utf8').toString('base64');
  return (b64.match(/.{1,76}/g) ?? []).join('\r\n');
}

const when = (d: Date): string => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';

function textPart(input: DigestMailInput): string {
  const lines = [
    `Quarantine digest for ${input.to}`,
    '',
    `${String(input.listings.length + input.more)} new message(s) were held for you since your last digest.`,
    'They will not be delivered unless you release them.',
    '',
  ];
  for (const m of input.listings) {
    lines.push(
      `From:    ${displayText(m.from) || '(no sender)'}`,
      `Subject: ${displayText(m.subject) || '(no subject)'}`,
      `Date:    ${when(m.time)}`,
      `Reason:  ${displayText(m.reason)}`,
      `Review:  ${m.url}`,
      '',
    );
  }
  if (input.more > 0) lines.push(`…and ${String(input.more)} more in your quarantine.`, '');
  lines.push(`Your quarantine: ${input.quarantineUrl}`, '');
  return lines.join('\r\n');
}

function htmlPart(input: DigestMailInput): string {
  const rows = input.listings
    .map(
      (m) =>
        '<tr>' +
        `<td>${escapeHtml(displayText(m.from) || '(no sender)')}</td>` +
        `<td>${escapeHtml(displayText(m.subject) || '(no subject)')}</td>` +
        `<td>${escapeHtml(when(m.time))}</td>` +
        `<td>${escapeHtml(displayText(m.reason))}</td>` +
        `<td><a href="${escapeHtml(m.url)}">Review</a></td>` +
        '</tr>',
    )
    .join('\r\n');
  const more =
    input.more > 0 ? `<p>…and ${String(input.more)} more in your quarantine.</p>\r\n` : '';
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><title>Quarantine digest</title></head><body>',
    `<h1>Quarantine digest for ${escapeHtml(input.to)}</h1>`,
    `<p>${String(input.listings.length + input.more)} new message(s) were held for you since ` +
      'your last digest. They will not be delivered unless you release them.</p>',
    '<table border="1" cellpadding="4" cellspacing="0">',
    '<tr><th>From</th><th>Subject</th><th>Date</th><th>Reason</th><th></th></tr>',
    rows,
    '</table>',
    more + `<p><a href="${escapeHtml(input.quarantineUrl)}">Open your quarantine</a></p>`,
    '</body></html>',
    '',
  ].join('\r\n');
}

/** The whole message, CRLF line ends, ready for OutboundQueue.enqueue. */
export function buildDigestMail(input: DigestMailInput): Buffer {
  const boundary = `=_parapet_${randomBytes(12).toString('hex')}`;
  const count = input.listings.length + input.more;
  const head = [
    `From: Parapet quarantine <${input.from}>`,
    `To: <${input.to}>`,
    `Subject: ${headerText(`Quarantine digest: ${String(count)} new message(s) held for you`)}`,
    `Date: ${input.now.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <digest.${input.now.getTime().toString(36)}.${randomBytes(6).toString('hex')}@${input.hostname}>`,
    'MIME-Version: 1.0',
    'Auto-Submitted: auto-generated',
    'X-Parapet-Digest: 1',
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, body: string): string =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      'Content-Transfer-Encoding: base64',
      '',
      base64Lines(body),
    ].join('\r\n');
  return Buffer.from(
    [
      ...head,
      '',
      part('text/plain', textPart(input)),
      part('text/html', htmlPart(input)),
      `--${boundary}--`,
      '',
    ].join('\r\n'),
    'utf8',
  );
}
