/**
 * /api/v1/settings/tls on the Manager: the certificate the web listeners serve (subject,
 * issuer, names, validity) and its replacement by an uploaded PEM key and certificate, checked
 * (the key must match) and written atomically (key 0600), then applied to this listener at
 * once with setSecureContext; the End User listener (28443) follows the files and serves it within
 * 30 s (web-service.ts, watchCertificate).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import { ParapetError } from '../../../filter/index.js';
import { ADMIN_ONLY, ADMIN_READ } from '../access.js';
import type { ApiModule } from '../modules.js';
import { checkCertificatePair, installCertificate, tlsPaths } from '../tls-certificate.js';

/** What the Manager shows of a certificate (nothing secret: the key never leaves the disk). */
export interface CertificateView {
  readonly subject: string;
  readonly issuer: string;
  readonly subjectAltName: string | null;
  readonly validFrom: string;
  readonly validTo: string;
  readonly daysLeft: number;
  readonly selfSigned: boolean;
  readonly fingerprint256: string;
}

export function certificateView(pem: string, now = Date.now()): CertificateView {
  const x = new X509Certificate(pem);
  const validTo = new Date(x.validTo);
  return {
    subject: x.subject,
    issuer: x.issuer,
    subjectAltName: x.subjectAltName ?? null,
    validFrom: new Date(x.validFrom).toISOString(),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now) / 86_400_000),
    selfSigned: x.issuer === x.subject,
    fingerprint256: x.fingerprint256,
  };
}

/** PEM text: a certificate chain or a key is a few KiB; 64 KiB bounds a long chain. */
const PEM = { type: 'string', minLength: 64, maxLength: 65_536 } as const;

export const settingsModule: ApiModule = {
  name: 'settings',
  surfaces: ['manager'],
  register(app, ctx) {
    const paths = tlsPaths(ctx.config.home);

    app.get(
      '/api/v1/settings/tls',
      {
        config: { access: ADMIN_READ },
        schema: {
          summary: 'the web certificate: subject, issuer, names, validity, fingerprint',
          tags: ['settings'],
        },
      },
      async () => {
        let pem: string;
        try {
          pem = await readFile(paths.cert, 'utf8');
        } catch (err) {
          throw new ParapetError('ERR_UI_NOT_FOUND', 'this node has no web certificate yet', {
            cause: err,
          });
        }
        try {
          return certificateView(pem);
        } catch (err) {
          throw new ParapetError('ERR_UI_TLS', 'the installed certificate cannot be read', {
            cause: err,
          });
        }
      },
    );

    app.put<{ Body: { key: string; cert: string } }>(
      '/api/v1/settings/tls',
      {
        config: { access: ADMIN_ONLY },
        schema: {
          summary:
            'replace the web certificate with a PEM key and certificate (chain); applied at once',
          tags: ['settings'],
          body: {
            type: 'object',
            required: ['key', 'cert'],
            additionalProperties: false,
            properties: { key: PEM, cert: PEM },
          },
        },
      },
      async (request) => {
        const pair = { key: request.body.key, cert: request.body.cert };
        let view: CertificateView;
        try {
          checkCertificatePair(pair);
          view = certificateView(pair.cert);
        } catch (err) {
          await ctx.audited(request, 'settings.tls', null, {}, 'denied');
          // A bad upload is the caller's mistake (400), not the server's.
          throw new ParapetError(
            'ERR_UI_BAD_REQUEST',
            err instanceof Error ? err.message : 'not a usable certificate and key',
            { cause: err },
          );
        }
        if (view.daysLeft < 0) {
          throw new ParapetError(
            'ERR_UI_BAD_REQUEST',
            `the certificate expired on ${view.validTo}`,
          );
        }
        await installCertificate(ctx.config.home, pair);
        const server = app.server as unknown as Partial<Pick<TlsServer, 'setSecureContext'>>;
        const appliedNow = typeof server.setSecureContext === 'function';
        if (appliedNow) {
          server.setSecureContext?.({ key: pair.key, cert: pair.cert, minVersion: 'TLSv1.2' });
        }
        await ctx.audited(request, 'settings.tls', view.subject, {
          validTo: view.validTo,
          fingerprint256: view.fingerprint256,
        });
        return { ...view, appliedNow };
      },
    );
  },
};
