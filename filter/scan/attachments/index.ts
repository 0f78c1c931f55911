/** Attachment and archive inspection (issue 4). */
export * from './attachment-scanner.js';
export * from './file-type.js';
export * from './zip-reader.js';
