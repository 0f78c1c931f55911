/**
 * Example filter module: holds invoice lures from senders outside the organisation.
 * - Refuses recipients at a retired domain at RCPT time (per recipient).
 * - Tags every message with the number of recipients it was sent to.
 * - Quarantines a message whose Subject mentions an invoice and whose sender is not at the
 *   organisation's own domain.
 *
 * Run it inside the policy service (listed in the node's modules) or alone as a milter:
 *   await runFilterModuleAsMilter(invoiceGuard('example.org'), { tcp: { host: '127.0.0.1', port: 3367 } });
 */
import { ModuleDecisions, type FilterModule } from '../filter-module.js';

export function invoiceGuard(ownDomain: string, retiredDomain = 'old.example.org'): FilterModule {
  const own = `@${ownDomain.toLowerCase()}`;
  return {
    name: 'invoice-guard',
    onRcptTo: ({ recipient }) =>
      recipient.address.toLowerCase().endsWith(`@${retiredDomain}`)
        ? ModuleDecisions.reject(`mailbox moved: ${retiredDomain} is retired`, 550, '5.1.6')
        : ModuleDecisions.continue(),
    onMessage: ({ message, envelope }) => {
      const subject = message.headers.getFirst('subject') ?? '';
      const sender = envelope.mailFrom?.address.toLowerCase() ?? '';
      if (/\binvoice\b/i.test(subject) && !sender.endsWith(own)) {
        return ModuleDecisions.quarantine('external invoice');
      }
      return ModuleDecisions.continueWith([
        {
          kind: 'addHeader',
          name: 'X-Invoice-Guard',
          value: `checked; rcpts=${envelope.recipients.length}`,
        },
      ]);
    },
  };
}
