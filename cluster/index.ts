/** Public API of the server group (discovery, join, sync, election). Nothing yet: see README. */
export const clusterFeatures: readonly string[] = [];
