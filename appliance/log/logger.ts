/**
 * Structured logging for services: pino, one child logger per service, and the bridge from the
 * data plane's typed events (filter/log/events.ts) to log lines. Secrets never reach a log:
 * credentials and bodies are redacted by path.
 */
import { pino, type Logger } from 'pino';
import { FilterEvents, type EventSink } from '../../filter/index.js';

export function createServiceLogger(service: string): Logger {
  return pino({
    name: `parapet-${service}`,
    level: process.env['PARAPET_LOG_LEVEL'] ?? 'info',
    redact: ['password', '*.password', 'token', '*.token', 'body', '*.body'],
  });
}

/** Maps each data-plane event onto the logger at the level its catalog entry names. */
export function eventSinkFor(logger: Logger): EventSink {
  return (event, fields) => {
    logger[FilterEvents[event]]({ event, ...fields }, event);
  };
}
