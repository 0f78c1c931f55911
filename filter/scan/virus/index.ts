/** Virus scanning through clamd (issue 4). */
export * from './clamd-client.js';
export * from './virus-scanner.js';
export * from './virus-header.js';
