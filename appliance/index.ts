/** Public API of one node. */
export const applianceFeatures: readonly string[] = [];
