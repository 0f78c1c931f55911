/**
 * SMTP replies as values (RFC 5321 §4.2, enhanced codes RFC 3463). Shared by the SMTP
 * content filter (sent as is) and the milter adapter (sent as SMFIR_REPLYCODE).
 */

export interface SmtpReply {
  /** Three-digit reply code, 2xx–5xx. */
  readonly code: number;
  /** Enhanced status code "x.y.z" (RFC 3463), or null when the reply carries none. */
  readonly enhanced: string | null;
  /** Human-readable text; may contain several lines separated by "\n". */
  readonly text: string;
}

export function smtpReply(code: number, enhanced: string | null, text: string): SmtpReply {
  return Object.freeze({ code, enhanced, text });
}

/** True for 4xx: the client keeps the message and retries. */
export function isTemporaryReply(reply: SmtpReply): boolean {
  return reply.code >= 400 && reply.code < 500;
}

/** Formats a reply for the wire: each line "code-" (continuation) or "code " (last), CRLF. */
export function formatSmtpReply(reply: SmtpReply): string {
  const lines = reply.text.split(/\r?\n/);
  const prefix = reply.enhanced === null ? '' : `${reply.enhanced} `;
  return lines
    .map((line, i) => `${reply.code}${i === lines.length - 1 ? ' ' : '-'}${prefix}${line}\r\n`)
    .join('');
}

/** Named replies used across the data plane. */
export const SmtpReplies = {
  tempfailInternal: smtpReply(451, '4.3.0', 'Temporary internal error, try again later'),
  tempfailBusy: smtpReply(421, '4.3.2', 'Service busy, try again later'),
  rejectPolicy: smtpReply(550, '5.7.1', 'Message rejected by policy'),
  messageTooLarge: smtpReply(552, '5.3.4', 'Message size exceeds fixed limit'),
  tooManyRecipients: smtpReply(452, '4.5.3', 'Too many recipients'),
  // Replies of the SMTP content filter (filter/smtp/session.ts).
  ok: smtpReply(250, '2.0.0', 'Ok'),
  accepted: smtpReply(250, '2.0.0', 'Ok: message accepted'),
  bye: smtpReply(221, '2.0.0', 'Bye'),
  startData: smtpReply(354, null, 'End data with <CR><LF>.<CR><LF>'),
  commandUnrecognized: smtpReply(502, '5.5.2', 'Error: command not recognized'),
  lineTooLong: smtpReply(500, '5.5.0', 'Error: line too long'),
  badSequenceNeedHelo: smtpReply(503, '5.5.1', 'Error: send EHLO or HELO first'),
  badSequenceNestedMail: smtpReply(503, '5.5.1', 'Error: nested MAIL command'),
  badSequenceNeedMail: smtpReply(503, '5.5.1', 'Error: need MAIL command'),
  badSequenceNeedRcpt: smtpReply(503, '5.5.1', 'Error: need RCPT command'),
  badSequenceInTransaction: smtpReply(503, '5.5.1', 'Error: MAIL transaction in progress'),
  tooManyErrors: smtpReply(421, '4.7.0', 'Error: too many errors, closing connection'),
  idleTimeout: smtpReply(421, '4.4.2', 'Error: timeout exceeded, closing connection'),
  shuttingDown: smtpReply(421, '4.3.2', 'Service shutting down, closing connection'),
  bareLfInData: smtpReply(550, '5.6.0', 'Message refused: bare <LF> in data (RFC 5321 2.3.8)'),
  dataLineTooLong: smtpReply(550, '5.6.0', 'Message refused: line too long'),
  headerTooLarge: smtpReply(552, '5.3.4', 'Message header size exceeds fixed limit'),
} as const;
