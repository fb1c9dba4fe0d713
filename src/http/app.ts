// The HTTP server: one Fastify instance, one error handler, body parsers for JSON and OAuth
// form posts, request ids echoed, and every route group registered.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { MandateError } from '../core/errors.js';
import { createServer } from 'node:http';
import type { Mandate } from '../mandate.js';
import { errorBody, handleError } from './error-handler.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerAuthzenRoutes } from './routes/authzen.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMcpRoutes } from './routes/mcp.js';
import { registerOAuthRoutes } from './routes/oauth.js';
import { registerPolicyRoutes } from './routes/policies.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerTokenRoutes } from './routes/tokens.js';

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

export async function buildApp(m: Mandate): Promise<FastifyInstance> {
  // Typed as the default instance so route modules stay simple.
  const app = Fastify({
    loggerInstance: m.logger as FastifyBaseLogger | undefined,
    // One line per request (our onResponse hook) instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: m.config.server.bodyLimit,
    trustProxy: m.config.server.trustProxy,
    requestIdHeader: false,
    genReqId: () => `req_${Math.random().toString(36).slice(2, 12)}`,
    return503OnClosing: true,
    forceCloseConnections: true,
    // The MCP endpoint is the hot path: the gateway takes it on Node's request and response,
    // before Fastify's routing, hooks and body parsing (it reads and checks the body itself).
    serverFactory: (handler) =>
      createServer((req, res) => {
        const url = req.url ?? '';
        if (url === '/mcp' || url.startsWith('/mcp?')) {
          m.gateway.handle(req, res).catch((err) => {
            m.logger?.error({ err }, 'mcp request failed');
            if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32603, message: 'internal error; the server log has details' } }));
            else res.end();
          });
          return;
        }
        handler(req, res);
      }),
  });

  // OAuth endpoints take form posts (RFC 6749 §3.2); a parameter given twice is an error.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    const params = new URLSearchParams(body as string);
    const out: Record<string, string> = {};
    for (const [k, v] of params) {
      if (k in out) {
        done(new MandateError('invalid_request', `parameter \`${k}\` is repeated`), undefined);
        return;
      }
      out[k] = v;
    }
    done(null, out);
  });

  // JSON APIs take JSON only; OAuth endpoints take forms only (checked in their routes).
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined || req.body === null) return;
    if (!req.url.startsWith('/api/') && !req.url.startsWith('/access/')) return;
    const ct = (req.headers['content-type'] ?? '').toLowerCase();
    if (!ct.startsWith('application/json')) {
      throw new MandateError('unsupported_media_type', `unsupported content type \`${ct || '(none)'}\`: send application/json`);
    }
  });

  // AuthZEN asks PDPs to echo the PEP's X-Request-ID.
  app.addHook('onRequest', async (req, reply) => {
    const rid = req.headers['x-request-id'];
    if (typeof rid === 'string' && REQUEST_ID.test(rid)) reply.header('X-Request-ID', rid);
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.info({ method: req.method, url: req.routeOptions.url ?? req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send(errorBody('not_found', `no route for ${req.method} ${req.url.split('?')[0]}`));
  });

  registerHealthRoutes(app, m);
  registerOAuthRoutes(app, m);
  registerAuthzenRoutes(app, m);
  registerAgentRoutes(app, m);
  registerTaskRoutes(app, m);
  registerAuditRoutes(app, m);
  registerPolicyRoutes(app, m);
  registerTokenRoutes(app, m);
  registerMcpRoutes(app, m);
  registerApprovalRoutes(app, m);
  await app.ready();
  return app;
}
