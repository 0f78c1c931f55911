/**
 * Builds one web surface (Manager on 18080 or rpcui on 28443): fastify with the access
 * guard, the error mapping of ui/ERRORS.md, the API modules of that surface, the OpenAPI
 * document and the pages. Secrets never reach a log line: pino redacts the cookie and
 * authorization headers and request bodies are not logged.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import { ParapetError } from '../../filter/index.js';
import { isUiErrorCode, UI_ERROR_STATUS } from '../errors.js';
import type { ApiContext } from './context.js';
import { accessGuard } from './guard.js';
import { API_MODULES } from './modules.js';
import { openApiCollector } from './openapi.js';
import type { TlsPair } from './tls-certificate.js';

/** The repository (or installed package) root: pages and compiled browser code live there. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'ui'))) return dir;
    dir = dirname(dir);
  }
  throw new ParapetError('ERR_UI_INTERNAL', 'cannot find the Parapet package root');
}

export interface WebAppOptions {
  readonly context: ApiContext;
  /** null: plain HTTP (only for tests that call app.inject). */
  readonly tls: TlsPair | null;
  /** Largest request body (uploads of messages to test against a draft policy). */
  readonly bodyLimitBytes?: number;
}

export async function buildWebApp(options: WebAppOptions): Promise<FastifyInstance> {
  const ctx = options.context;
  const base = {
    loggerInstance: ctx.logger,
    bodyLimit: options.bodyLimitBytes ?? 10 * 1024 * 1024,
    trustProxy: false,
    routerOptions: { maxParamLength: 200 },
    // A parameter or field the route does not know is an error (400), not silently dropped:
    // a mistyped filter such as `?sendr=` must not widen a search or a bulk action to all.
    ajv: { customOptions: { removeAdditional: false } },
  };
  const app: FastifyInstance =
    options.tls === null
      ? (Fastify(base) as unknown as FastifyInstance)
      : (Fastify({
          ...base,
          https: { key: options.tls.key, cert: options.tls.cert, minVersion: 'TLSv1.2' },
        }) as unknown as FastifyInstance);

  app.decorateRequest('principal', null);
  await app.register(cookie);
  const openapi = openApiCollector(app, ctx.surface);
  app.addHook('onRequest', accessGuard(ctx));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'no-referrer');
    reply.header(
      'content-security-policy',
      "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    );
    if (options.tls !== null) reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof ParapetError && isUiErrorCode(err.code)) {
      const status = UI_ERROR_STATUS[err.code];
      if (status >= 500) request.log.error({ err }, 'request failed');
      return reply.code(status).send({ error: err.code, message: err.message });
    }
    const e = err as { validation?: unknown; statusCode?: number; message?: string };
    if (e.validation !== undefined) {
      return reply.code(400).send({ error: 'ERR_UI_BAD_REQUEST', message: e.message ?? 'invalid' });
    }
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      // fastify's own client errors: bad JSON, too large, unsupported media type.
      return reply
        .code(e.statusCode)
        .send({ error: 'ERR_UI_BAD_REQUEST', message: e.message ?? 'bad request' });
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'ERR_UI_INTERNAL', message: 'internal error' });
  });
  app.setNotFoundHandler((request, reply) => {
    // The guard ran already: an unknown API path answers 401 to strangers, 404 to the signed-in.
    return reply.code(404).send({
      error: 'ERR_UI_NOT_FOUND',
      message: `no route ${request.method} ${request.url.slice(0, 200)}`,
    });
  });

  for (const module of API_MODULES) {
    if (module.surfaces.includes(ctx.surface)) await module.register(app, ctx);
  }
  app.get(
    '/api/v1/openapi.json',
    { config: { access: { roles: ['admin', 'viewer', 'groupadmin', 'user'] } } },
    () => openapi.document(),
  );

  const root = packageRoot();
  await app.register(fastifyStatic, {
    root: join(root, 'ui', 'web', 'static'),
    prefix: '/',
    index: [ctx.surface === 'manager' ? 'manager.html' : 'portal.html'],
    wildcard: false,
  });
  await app.register(fastifyStatic, {
    root: join(root, 'dist', 'ui', 'web'),
    prefix: '/app/',
    decorateReply: false,
    wildcard: true,
  });
  return app;
}
