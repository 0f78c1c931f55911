/**
 * Roles of web accounts. The Manager (18080) serves `admin` (everything) and `viewer`
 * (read-only); the End User and Groups Web Interfaces (28443) serve `user` (their own mail)
 * and `groupadmin` (the groups delegated to them). An administrator may use 28443 as well.
 */
export const ROLES = ['admin', 'viewer', 'groupadmin', 'user'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Which surface a role signs in to. */
export const SURFACE_ROLES = {
  manager: ['admin', 'viewer'],
  rpcui: ['admin', 'groupadmin', 'user'],
} as const satisfies Record<string, readonly Role[]>;

export type Surface = keyof typeof SURFACE_ROLES;
