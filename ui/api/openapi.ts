/**
 * The OpenAPI 3 document at /api/v1/openapi.json, built from the routes as fastify registers
 * them: their JSON schemas (body, querystring, params, responses) and their Access rule.
 */
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Access } from './access.js';

interface Operation {
  method: string;
  url: string;
  access: Access | undefined;
  schema: RouteOptions['schema'];
}

export function openApiCollector(
  app: FastifyInstance,
  surface: string,
): { document(): unknown; routes(): readonly Operation[] } {
  const ops: Operation[] = [];
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith('/api/')) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      ops.push({ method, url: route.url, access: route.config?.access, schema: route.schema });
    }
  });
  return {
    routes: () => ops,
    document: () => {
      const paths: Record<string, Record<string, unknown>> = {};
      for (const op of ops) {
        const path = op.url.replace(/:([A-Za-z_]+)/g, '{$1}');
        const s = (op.schema ?? {}) as Record<string, unknown>;
        const params = [
          ...Object.keys(
            (s['params'] as { properties?: object } | undefined)?.properties ?? {},
          ).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
          ...Object.entries(
            (s['querystring'] as { properties?: Record<string, unknown> } | undefined)
              ?.properties ?? {},
          ).map(([name, schema]) => ({ name, in: 'query', schema })),
        ];
        const access = op.access ?? { roles: ['admin'] };
        (paths[path] ??= {})[op.method.toLowerCase()] = {
          summary: typeof s['summary'] === 'string' ? s['summary'] : undefined,
          tags: Array.isArray(s['tags']) ? s['tags'] : [path.split('/')[3] ?? 'api'],
          'x-parapet-access': access,
          security: access === 'public' ? [] : [{ session: [] }, { token: [] }],
          parameters: params,
          ...(s['body'] === undefined
            ? {}
            : { requestBody: { content: { 'application/json': { schema: s['body'] } } } }),
          responses: Object.fromEntries(
            Object.entries(
              (s['response'] as Record<string, unknown> | undefined) ?? { 200: {} },
            ).map(([code, schema]) => [
              code,
              { description: code, content: { 'application/json': { schema } } },
            ]),
          ),
        };
      }
      return {
        openapi: '3.0.3',
        info: { title: `Parapet ${surface} API`, version: '1' },
        components: {
          securitySchemes: {
            session: {
              type: 'apiKey',
              in: 'cookie',
              name: surface === 'manager' ? 'parapet_mgr' : 'parapet_ui',
            },
            token: { type: 'http', scheme: 'bearer' },
          },
        },
        paths,
      };
    },
  };
}
