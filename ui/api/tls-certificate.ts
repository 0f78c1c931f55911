/**
 * The certificate both web listeners serve: made with node-forge at first start (self-signed,
 * RSA 2048, SHA-256, 825 days, names: this host, localhost and its loopback addresses) and kept
 * in `$PARAPET_HOME/config/tls/` (key mode 0600). An administrator replaces it with an uploaded
 * pair (installCertificate), which is checked first: the key must match the certificate.
 */
import { generateKeyPairSync, X509Certificate, createPrivateKey } from 'node:crypto';
import { chown, mkdir, open, readFile, rename, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { ParapetError } from '../../filter/index.js';

export interface TlsPair {
  readonly key: string;
  readonly cert: string;
}

export const tlsPaths = (home: string): { dir: string; key: string; cert: string } => {
  const dir = join(home, 'config', 'tls');
  return { dir, key: join(dir, 'web.key'), cert: join(dir, 'web.crt') };
};

/** A new self-signed pair for `names` (DNS names and IP addresses). */
export function makeSelfSignedCertificate(names: readonly string[], days = 825): TlsPair {
  // Node makes the key (native, fast); forge builds and signs the certificate.
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  );
  const forgePub = forge.pki.publicKeyFromPem(
    publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  );
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePub;
  cert.serialNumber = `01${forge.util.bytesToHex(forge.random.getBytesSync(15))}`;
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60_000);
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
  const cn = names[0] ?? 'parapet';
  const subject = [
    { name: 'commonName', value: cn },
    { name: 'organizationName', value: 'Parapet appliance' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const altNames = names.map((n) =>
    /^[0-9.]+$/.test(n) || n.includes(':') ? { type: 7, ip: n } : { type: 2, value: n },
  );
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}

/** Throws ERR_UI_TLS unless `pair` is a PEM certificate with its matching private key. */
export function checkCertificatePair(pair: TlsPair): { subject: string; validTo: string } {
  try {
    const x509 = new X509Certificate(pair.cert);
    const key = createPrivateKey(pair.key);
    if (!x509.checkPrivateKey(key)) throw new Error('the key does not belong to the certificate');
    return { subject: x509.subject, validTo: x509.validTo };
  } catch (err) {
    throw new ParapetError(
      'ERR_UI_TLS',
      `not a usable certificate and key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** The pair as the files hold it now. */
async function readCertificateFiles(home: string): Promise<TlsPair> {
  const p = tlsPaths(home);
  return { key: await readFile(p.key, 'utf8'), cert: await readFile(p.cert, 'utf8') };
}

/** The node's pair, made on first use. */
export async function ensureCertificate(home: string): Promise<TlsPair> {
  const p = tlsPaths(home);
  try {
    return await readCertificateFiles(home);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ParapetError('ERR_UI_TLS', `cannot read ${p.dir}: ${String(err)}`, { cause: err });
    }
  }
  const host = hostname();
  const pair = makeSelfSignedCertificate([host, 'localhost', '127.0.0.1', '::1']);
  await installCertificate(home, pair);
  return pair;
}

/** Writes a checked pair atomically (key 0600), owned like the config folder. */
export async function installCertificate(home: string, pair: TlsPair): Promise<void> {
  checkCertificatePair(pair);
  const p = tlsPaths(home);
  await mkdir(p.dir, { recursive: true, mode: 0o750 });
  const owner = await stat(join(home, 'config'));
  for (const [path, text, mode] of [
    [p.key, pair.key, 0o600],
    [p.cert, pair.cert, 0o644],
  ] as const) {
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', mode);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (process.getuid?.() === 0 && owner.uid !== 0) await chown(tmp, owner.uid, owner.gid);
    await rename(tmp, path);
  }
  if (process.getuid?.() === 0 && owner.uid !== 0) await chown(p.dir, owner.uid, owner.gid);
}

/**
 * Follows the node's pair on disk: every `intervalMs` it compares the files' stamps and, when
 * they changed and hold a usable pair again, hands it to `apply` (the listener's
 * setSecureContext). So a pair replaced through the other listener, by `installCertificate`
 * or by hand reaches every listener without a restart. A half-written or mismatched pair (key
 * renamed before the certificate) is skipped and retried on the next tick.
 */
export function watchCertificate(
  home: string,
  apply: (pair: TlsPair) => void,
  options: { intervalMs?: number; onError?: (err: unknown) => void } = {},
): { stop(): void } {
  const p = tlsPaths(home);
  const stampOf = async (): Promise<string> => {
    const [k, c] = await Promise.all([stat(p.key), stat(p.cert)]);
    return `${String(k.ino)}:${String(k.mtimeMs)}:${String(c.ino)}:${String(c.mtimeMs)}`;
  };
  let applied: string | null = null;
  let busy = false;
  const tick = async (): Promise<void> => {
    const stamp = await stampOf();
    if (applied === null) {
      applied = stamp; // the pair the listener started with
      return;
    }
    if (stamp === applied) return;
    const pair = await readCertificateFiles(home);
    checkCertificatePair(pair);
    apply(pair);
    applied = stamp;
  };
  const run = (): void => {
    if (busy) return;
    busy = true;
    tick()
      .catch((err: unknown) => options.onError?.(err))
      .finally(() => {
        busy = false;
      });
  };
  run();
  const timer = setInterval(run, options.intervalMs ?? 30_000);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
    },
  };
}
