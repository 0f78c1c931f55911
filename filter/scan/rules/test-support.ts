/**
 * For the rule tests: the symbols a rule scanner reports for a message written as header lines
 * (LF-separated, blank lines dropped) and a body (LF line ends), with "now" pinned to the
 * corpus era (CONTRACTS.md: date rules judge 2002 mail as they would have then).
 */
import { messageFromRaw } from '../../test-support.js';
import { createRuleScanner } from './index.js';

export const CORPUS_ERA_NOW = new Date('2002-09-01T12:00:00Z');

const defaultScanner = createRuleScanner({ now: () => CORPUS_ERA_NOW });

export async function firedSymbols(
  headers: string,
  body: string,
  scanner = defaultScanner,
): Promise<string[]> {
  const head = headers
    .trim()
    .split('\n')
    .filter((line) => line !== '')
    .join('\r\n');
  const raw = `${head}\r\n\r\n${body.split('\n').join('\r\n')}`;
  const signal = new AbortController().signal;
  return (await scanner.scan(await messageFromRaw(raw), signal)).findings.map((f) => f.symbol);
}
