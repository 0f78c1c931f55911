/**
 * Public API of the data plane. appliance/ (and anything above it) imports filter/ only
 * through this file.
 */
export * from './errors.js';
export * from './smtp/reply.js';
export * from './message/envelope.js';
export * from './message/header-list.js';
export * from './message/body-spool.js';
export * from './message/message-id.js';
export * from './message/mime.js';
export * from './message/message.js';
export * from './message/from-bytes.js';
export * from './actions/verdict.js';
export * from './scan/scanner.js';
export * from './pipeline/types.js';
export * from './pipeline/policy-hook.js';
export * from './pipeline/pipeline.js';
export * from './log/events.js';
export * from './log/message-log.js';
export * from './quarantine/writer.js';
export * from './durable/durable-file.js';
export * from './milter/index.js';
export * from './smtp/index.js';
export * from './module-api/filter-module.js';
export * from './module-api/standalone.js';
export * as sieve from './policy/sieve/index.js';
export * as policy from './policy/index.js';
export * from './scan/virus/index.js';
export * from './scan/dns/index.js';
export * from './scan/attachments/index.js';
export * from './scan/auth/index.js';
export * from './scan/rules/index.js';
export * from './scan/bayes/index.js';
