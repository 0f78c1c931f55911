/** Public API of provisioning. */
export const provisioningFeatures: readonly string[] = [];
