/**
 * Sign-in sessions, held in the memory of the service that issued them (a restart signs
 * everyone out, which is acceptable for an appliance's admin and end-user pages). The cookie
 * carries only a random id; the CSRF token is a second random value the pages send back in
 * `X-CSRF-Token` with every state change.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from './roles.js';

export interface Session {
  readonly id: string;
  readonly csrf: string;
  readonly username: string;
  readonly role: Role;
  /** Signed in with a TOTP code (or the role does not need one). */
  readonly secondFactor: boolean;
  /** True while the role requires TOTP and the account has not enrolled: only enrolment routes. */
  readonly mustEnrolTotp: boolean;
  /** The addresses an end user's session is limited to (a digest link grants one address). */
  readonly addresses: readonly string[] | null;
  readonly createdAt: number;
  lastSeenAt: number;
}

export interface SessionLimits {
  readonly idleMs: number;
  readonly maxMs: number;
  /** Sessions kept at most (oldest dropped first): bounds memory under a flood of sign-ins. */
  readonly maxSessions: number;
}

export class SessionStore {
  readonly #sessions = new Map<string, Session>();
  readonly #limits: SessionLimits;
  readonly #now: () => number;

  constructor(limits: SessionLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  create(fields: Omit<Session, 'id' | 'csrf' | 'createdAt' | 'lastSeenAt'>): Session {
    const now = this.#now();
    const session: Session = {
      ...fields,
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(24).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    while (this.#sessions.size >= this.#limits.maxSessions) {
      const oldest = this.#sessions.keys().next();
      if (oldest.done === true) break;
      this.#sessions.delete(oldest.value);
    }
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session for a cookie value (touching it), or undefined when absent or expired. */
  get(id: string | undefined): Session | undefined {
    if (id === undefined || id.length !== 43) return undefined;
    const s = this.#sessions.get(id);
    if (s === undefined) return undefined;
    const now = this.#now();
    if (now - s.lastSeenAt > this.#limits.idleMs || now - s.createdAt > this.#limits.maxMs) {
      this.#sessions.delete(id);
      return undefined;
    }
    s.lastSeenAt = now;
    return s;
  }

  destroy(id: string): void {
    this.#sessions.delete(id);
  }

  /** Ends every session of an account (password change, removal, disabling). */
  destroyFor(username: string, except?: string): number {
    let n = 0;
    for (const [id, s] of this.#sessions) {
      if (s.username === username && id !== except) {
        this.#sessions.delete(id);
        n += 1;
      }
    }
    return n;
  }

  get size(): number {
    return this.#sessions.size;
  }
}
