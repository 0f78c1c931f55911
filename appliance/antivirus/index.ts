/** `parapet serve antivirus`: clamd with the node's configuration and Parapet's signatures. */
export * from './clamd-config.js';
export * from './clamd-process.js';
export * from './signatures.js';
export * from './antivirus-service.js';
