/**
 * Typed event catalog of the data plane (STYLE.md B4 "Events"): `area.event_name` → level.
 * Code emits events through an EventSink; the appliance maps them onto pino.
 */

export const FilterEvents = {
  'pipeline.tempfail': 'warn',
  'pipeline.deadline': 'warn',
  'pipeline.scanner_failed': 'warn',
  'pipeline.envelope_check_failed': 'warn',
  'message_log.append_failed': 'error',
  'quarantine.write_failed': 'error',
  'quarantine.written': 'info',
  'milter.session_error': 'warn',
  'smtp.session_error': 'warn',
  'smtp.reinject_failed': 'warn',
} as const;

export type FilterEventName = keyof typeof FilterEvents;
export type EventLevel = (typeof FilterEvents)[FilterEventName];

/** Receives data-plane events; must not throw and must not block. */
export type EventSink = (event: FilterEventName, fields: Readonly<Record<string, unknown>>) => void;

/** An EventSink that drops everything (tests, tools). */
export const silentEvents: EventSink = () => undefined;
