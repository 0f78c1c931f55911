/** Public API of provisioning: MTA wiring (and later first boot, identity, join). */
export * from './errors.js';
export * from './mta-wiring/index.js';

/** Provisioning features available in this build. */
export const provisioningFeatures: readonly string[] = ['mta-wiring'];
