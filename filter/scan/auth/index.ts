/** Sender authentication: SPF, DKIM, DMARC, ARC with mailauth (issue 4). */
export * from './auth-scanner.js';
