/**
 * Sign-in throttling: failed attempts are counted per client address and per account in a
 * sliding window; past the limit, sign-in answers 429 until the window has moved on. The
 * per-account limit stops a distributed guesser, the per-address one a single noisy client.
 * Entries are bounded so that a flood of random names cannot grow memory without limit.
 */
export interface ThrottleLimits {
  readonly windowMs: number;
  readonly maxPerAddress: number;
  readonly maxPerAccount: number;
  readonly maxKeys: number;
}

export const DEFAULT_THROTTLE: ThrottleLimits = {
  windowMs: 15 * 60_000,
  maxPerAddress: 20,
  maxPerAccount: 8,
  maxKeys: 10_000,
};

export class LoginThrottle {
  readonly #failures = new Map<string, number[]>();
  readonly #limits: ThrottleLimits;
  readonly #now: () => number;

  constructor(limits: ThrottleLimits = DEFAULT_THROTTLE, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Seconds until another attempt is allowed, or 0 when it is allowed now. */
  retryAfter(address: string, account: string): number {
    const a = this.#recent(`ip:${address}`);
    const b = this.#recent(`user:${account}`);
    const wait = (times: number[], max: number): number => {
      if (times.length < max) return 0;
      const oldest = times[times.length - max] ?? this.#now();
      return Math.max(1, Math.ceil((oldest + this.#limits.windowMs - this.#now()) / 1000));
    };
    return Math.max(wait(a, this.#limits.maxPerAddress), wait(b, this.#limits.maxPerAccount));
  }

  recordFailure(address: string, account: string): void {
    for (const key of [`ip:${address}`, `user:${account}`]) {
      const times = this.#recent(key);
      times.push(this.#now());
      this.#failures.delete(key);
      this.#failures.set(key, times);
    }
    while (this.#failures.size > this.#limits.maxKeys) {
      const oldest = this.#failures.keys().next();
      if (oldest.done === true) break;
      this.#failures.delete(oldest.value);
    }
  }

  /** A successful sign-in clears the account's failures (not the address's). */
  recordSuccess(account: string): void {
    this.#failures.delete(`user:${account}`);
  }

  #recent(key: string): number[] {
    const cutoff = this.#now() - this.#limits.windowMs;
    const times = (this.#failures.get(key) ?? []).filter((t) => t > cutoff);
    return times;
  }
}
