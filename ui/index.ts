/** Public API of the web interfaces (Manager, EUWI, Groups). Nothing yet: see README. */
export const uiFeatures: readonly string[] = [];
