/** TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s) through the `otpauth` library. */
import { Secret, TOTP } from 'otpauth';

const totpFor = (secret: string, label: string): TOTP =>
  new TOTP({
    issuer: 'Parapet',
    label,
    algorithm: 'SHA1',
    digits: 6,
    period: 30,
    secret: Secret.fromBase32(secret),
  });

export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The otpauth:// URI an authenticator app reads (shown as text or a QR code at enrolment). */
export function totpUri(secret: string, username: string): string {
  return totpFor(secret, username).toString();
}

/** True when `code` is valid now or one period either side (clock drift). */
export function verifyTotp(secret: string, code: string): boolean {
  if (!/^\d{6}$/.test(code)) return false;
  return totpFor(secret, 'check').validate({ token: code, window: 1 }) !== null;
}

/** The current code (tests and `parapet user` diagnostics). */
export function currentTotp(secret: string, at: number = Date.now()): string {
  return totpFor(secret, 'check').generate({ timestamp: at });
}
