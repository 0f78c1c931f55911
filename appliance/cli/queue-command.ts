/**
 * `parapet queue list|run|delete` — the node's outbound queue (released mail, digests,
 * notices). `run` makes items due now and delivers them from this process; the running
 * Queue Runner would pick them up within a second as well, and a per-item claim keeps the
 * two from delivering the same item twice.
 */
import type { Command } from 'commander';
import { loadNodeConfig } from '../config/node-config.js';
import { OutboundQueue, type OutboundItem } from '../queue/outbound-queue.js';
import { QueueRunner } from '../queue/queue-runner.js';

function formatItem(i: OutboundItem): string {
  const error = i.lastError === null ? '' : `  last error: ${i.lastError}`;
  return `${i.id}  ${i.status.padEnd(9)} ${i.kind.padEnd(8)} ${String(i.attempts).padStart(2)} tries  ${i.from || '<>'} → ${i.to.join(', ')}  next ${i.nextAttemptAt}${error}`;
}

export function registerQueueCommands(program: Command): void {
  const queue = program.command('queue').description('the outbound queue (Queue Runner)');

  queue
    .command('list')
    .description('show queued, failed and uncertain items')
    .option('--json', 'one JSON array')
    .action(async (opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      const items = await new OutboundQueue(config.paths.queue).list();
      if (opts.json === true) process.stdout.write(`${JSON.stringify(items)}\n`);
      else
        process.stdout.write(
          items.length === 0 ? 'queue is empty\n' : `${items.map(formatItem).join('\n')}\n`,
        );
    });

  queue
    .command('run')
    .description('deliver now: the given items (also failed ones), or every queued item')
    .argument('[ids...]', 'item ids (parapet queue list)')
    .option('--json', 'print the counts as JSON')
    .action(async (ids: string[], opts: { json?: boolean }) => {
      const config = await loadNodeConfig();
      const q = new OutboundQueue(config.paths.queue);
      const chosen =
        ids.length > 0
          ? ids
          : (await q.list()).filter((i) => i.status === 'queued').map((i) => i.id);
      for (const id of chosen) await q.retryNow(id);
      const runner = new QueueRunner({ queue: q, target: config.policy.reinject });
      try {
        const result = await runner.runOnce(chosen);
        process.stdout.write(
          opts.json === true
            ? `${JSON.stringify(result)}\n`
            : `delivered ${String(result.delivered)}, deferred ${String(result.deferred)}, failed ${String(result.failed)}\n`,
        );
        if (result.deferred + result.failed > 0) process.exitCode = 1;
      } finally {
        await runner.close();
      }
    });

  queue
    .command('delete')
    .description('remove items without delivering them')
    .argument('<ids...>', 'item ids')
    .action(async (ids: string[]) => {
      const config = await loadNodeConfig();
      const q = new OutboundQueue(config.paths.queue);
      for (const id of ids) {
        await q.delete(id);
        process.stdout.write(`deleted ${id}\n`);
      }
    });
}
