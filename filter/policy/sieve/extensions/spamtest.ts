/**
 * RFC 5235 spamtest, spamtestplus and virustest. The value is computed exactly as Pigeonhole
 * computes it from a score and a maximum (single-precision arithmetic, 1–10 scale, "0" when the
 * message was not tested; :percent gives 0–100); virustest is the level 0–5 itself.
 */
import { validateRegexKeys } from '../compiler.js';
import type { SieveExtension } from '../extension-api.js';

const f = Math.fround;

/** Pigeonhole's decimal parser in single precision; null when invalid. */
function parseDecimal(text: string): number | null {
  let p = 0;
  let sign = 1;
  if (text === '') return null;
  if (text.charAt(0) === '+' || text.charAt(0) === '-') {
    if (text.charAt(0) === '-') sign = -1;
    p++;
  }
  let value = f(0);
  let digits = 0;
  while (p < text.length && /[0-9]/.test(text.charAt(p))) {
    value = f(f(value * 10) + (text.charCodeAt(p) - 48));
    if (digits++ > 4) return null;
    p++;
  }
  if (text.charAt(p) === '.' || text.charAt(p) === ',') {
    let radix = f(0.1);
    p++;
    digits = 0;
    while (p < text.length && /[0-9]/.test(text.charAt(p))) {
      value = f(value + f((text.charCodeAt(p) - 48) * radix));
      if (digits++ > 4) return null;
      radix = f(radix / 10);
      p++;
    }
  }
  if (p !== text.length) return null;
  return f(value * sign);
}

function formatNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

// The last inputs and values: a policy asks several spamtest questions about one message.
let memoScore: number | null = null;
let memoMax = Number.NaN;
const memoValues: [string | null, string | null] = [null, null];

/** The spamtest value ("0"–"10", or "0"–"100" with percent) for a score and maximum. */
export function spamtestValue(score: number | null, max: number, percent: boolean): string {
  if (score !== memoScore || max !== memoMax) {
    memoScore = score;
    memoMax = max;
    memoValues[0] = null;
    memoValues[1] = null;
  }
  const slot = percent ? 1 : 0;
  return (memoValues[slot] ??= computeSpamtestValue(score, max, percent));
}

function computeSpamtestValue(score: number | null, max: number, percent: boolean): string {
  if (score === null || !Number.isFinite(score) || !Number.isFinite(max)) return '0';
  const maxValue = parseDecimal(formatNumber(max));
  const status = parseDecimal(formatNumber(score));
  if (maxValue === null || status === null || maxValue === 0) return '0';
  let ratio: number;
  if (status < 0) ratio = 0;
  else if (status > maxValue) ratio = 1;
  else ratio = f(status / maxValue);
  const v = percent ? Math.trunc(f(ratio * 100) + 0.001) : Math.trunc(f(ratio * 9) + 1.001);
  return String(v);
}

/** The virustest value for an RFC 5235 level. */
export function virustestValue(level: number | null): string {
  if (level === null || !Number.isFinite(level) || level < 1) return '0';
  return String(Math.min(5, Math.trunc(level)));
}

/** The spamtest, spamtestplus and virustest extensions. */
export const spamtestExtension: SieveExtension = {
  capabilities: ['spamtest', 'spamtestplus', 'virustest'],
  commands: [
    {
      name: 'spamtest',
      kind: 'test',
      capability: 'spamtest',
      positional: [['string']],
      tags: [{ name: 'percent', capability: 'spamtestplus' }],
      matching: true,
      validate: (node, ctx) => {
        validateRegexKeys(node, node.args[0], ctx);
      },
      test: (node, rt) => {
        const value = spamtestValue(rt.env.spamScore, rt.env.spamMax, node.tags.has('percent'));
        return rt.matchValuesAgainst(node, [value], rt.stringList(node.args[0]));
      },
    },
    {
      name: 'virustest',
      kind: 'test',
      capability: 'virustest',
      positional: [['string']],
      matching: true,
      validate: (node, ctx) => {
        validateRegexKeys(node, node.args[0], ctx);
      },
      test: (node, rt) =>
        rt.matchValuesAgainst(
          node,
          [virustestValue(rt.env.virusLevel)],
          rt.stringList(node.args[0]),
        ),
    },
  ],
};
