/**
 * Every API module, in registration order. A module registers the routes of one resource
 * (plural noun under /api/v1/) on the surfaces it names; each route declares its Access.
 */
import type { FastifyInstance } from 'fastify';
import type { Surface } from './auth/roles.js';
import type { ApiContext } from './context.js';
import { sessionModule } from './routes/session-routes.js';
import { usersModule } from './routes/users-routes.js';

export interface ApiModule {
  readonly name: string;
  readonly surfaces: readonly Surface[];
  register(app: FastifyInstance, ctx: ApiContext): Promise<void> | void;
}

export const API_MODULES: readonly ApiModule[] = [
  sessionModule,
  usersModule,
  // Further modules: one line each (quarantine, reports, policy, lists, services, jobs, …).
];
