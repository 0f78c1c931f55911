/**
 * `parapet scan [--json] FILE...` (CONTRACTS.md): runs the node's scanners (as configured in
 * `$PARAPET_HOME/config/node.json`, the same set the policy service uses) over message files
 * and prints one line per message; with --json exactly
 * `{"file","score","threshold","spam","symbols":[{"name","score"}],"virus":{"status","names"}}`.
 * Files may start with an mbox "From " line and use LF line ends.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  combineScanOutputs,
  messageFromBytes,
  ParapetError,
  type ScannerOutput,
} from '../../filter/index.js';
import { loadNodeConfig } from '../config/node-config.js';
import { buildScanners } from '../services/scanners.js';

export function registerScanCommand(program: Command): void {
  program
    .command('scan')
    .description("scan message files with this node's scanners")
    .argument('<files...>', 'message files (an mbox "From " line and LF line ends are fine)')
    .option('--json', 'one JSON object per message (CONTRACTS.md)')
    .action(async (files: string[], opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      // A one-off scan neither marks tokens as used nor learns: it may run as another user.
      const built = await buildScanners(config, process.env, {
        bayesTouches: false,
        autoLearn: false,
      });
      const scanners = built.scanners;
      try {
        for (const file of files) {
          let bytes: Buffer;
          try {
            bytes = await readFile(file);
          } catch (err) {
            throw new ParapetError('ERR_INPUT_UNREADABLE', `${file}: ${String(err)}`, {
              cause: err,
            });
          }
          const message = await messageFromBytes(bytes);
          const outputs: ScannerOutput[] = [];
          const skipped: string[] = [];
          for (const scanner of scanners) {
            const signal = AbortSignal.timeout(scanner.timeoutMs);
            try {
              outputs.push(await scanner.scan(message, signal));
            } catch {
              skipped.push(scanner.name);
            }
          }
          const result = combineScanOutputs(outputs, skipped, config.scan.threshold);
          const line = {
            file,
            score: result.score,
            threshold: result.threshold,
            spam: result.spam,
            symbols: result.findings
              .filter((f) => f.score !== 0)
              .map((f) => ({ name: f.symbol, score: f.score })),
            virus:
              result.virus === null
                ? { status: 'unscanned', names: [] }
                : { status: result.virus.status, names: result.virus.names },
          };
          process.stdout.write(
            opts.json === true
              ? `${JSON.stringify(line)}\n`
              : `${file}: ${result.spam ? 'SPAM' : 'ham'} score ${String(result.score)} / ${String(result.threshold)}  ${line.symbols.map((s) => `${s.name}(${String(s.score)})`).join(' ')}  virus ${line.virus.status}${line.virus.names.length > 0 ? ` (${line.virus.names.join(', ')})` : ''}\n`,
          );
          await message.dispose();
        }
      } finally {
        await built.close();
      }
    });
}
