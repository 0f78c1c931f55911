/**
 * Every API module, in registration order. A module registers the routes of one resource
 * (plural noun under /api/v1/) on the surfaces it names; each route declares its Access.
 */
import type { FastifyInstance } from 'fastify';
import type { Surface } from './auth/roles.js';
import type { ApiContext } from './context.js';
import { sessionModule } from './routes/session-routes.js';
import { usersModule } from './routes/users-routes.js';
import { dashboardModule } from './routes/dashboard-routes.js';
import { servicesModule } from './routes/services-routes.js';
import { settingsModule } from './routes/settings-routes.js';
import { quarantineModule } from './routes/quarantine-routes.js';
import { reportsModule } from './routes/reports-routes.js';
import { policyModule } from './routes/policy-routes.js';
import { listsModule } from './routes/lists-routes.js';
import { portalModule } from './routes/portal-routes.js';
import { groupsModule } from './routes/groups-routes.js';

export interface ApiModule {
  readonly name: string;
  readonly surfaces: readonly Surface[];
  register(app: FastifyInstance, ctx: ApiContext): Promise<void> | void;
}

export const API_MODULES: readonly ApiModule[] = [
  sessionModule,
  usersModule,
  dashboardModule,
  servicesModule,
  settingsModule,
  quarantineModule,
  reportsModule,
  policyModule,
  listsModule,
  portalModule,
  groupsModule,
];
