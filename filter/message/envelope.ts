/**
 * The SMTP envelope of one message, as the MTA reported it. Both protocol adapters (milter and
 * SMTP content filter) fill the same shape, so nothing past filter/message knows which one the
 * message came in on.
 */

/** ESMTP parameters of MAIL FROM / RCPT TO (RFC 5321 §4.1.2); a bare keyword maps to true. */
export type EsmtpArgs = Readonly<Record<string, string | true>>;

export interface EnvelopeAddress {
  /** The address without angle brackets; "" for the null sender <>. */
  readonly address: string;
  readonly args: EsmtpArgs;
}

export interface ClientInfo {
  /** The connecting client's IP address as text, or null when unknown (unix socket, local). */
  readonly address: string | null;
  readonly port: number | null;
  /** Reverse-DNS name as the MTA reported it, or null. */
  readonly name: string | null;
}

export interface Envelope {
  client: ClientInfo;
  helo: string | null;
  mailFrom: EnvelopeAddress | null;
  recipients: EnvelopeAddress[];
  /** Milter macros or XFORWARD attributes, by name ("i", "{auth_authen}", "PROTO"). */
  macros: Map<string, string>;
  /** The MTA's queue id, when known (milter macro "i", XFORWARD has none). */
  queueId: string | null;
}

export function createEnvelope(client: Partial<ClientInfo> = {}): Envelope {
  return {
    client: {
      address: client.address ?? null,
      port: client.port ?? null,
      name: client.name ?? null,
    },
    helo: null,
    mailFrom: null,
    recipients: [],
    macros: new Map(),
    queueId: null,
  };
}

/** A fresh envelope for the next message on the same connection (keeps client and HELO). */
export function nextTransactionEnvelope(previous: Envelope): Envelope {
  return { ...createEnvelope(previous.client), helo: previous.helo };
}

/** Strips one pair of angle brackets: "<a@b>" → "a@b", "<>" → "". */
export function stripAngleBrackets(text: string): string {
  const t = text.trim();
  return t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t;
}
