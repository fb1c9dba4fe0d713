// The HTTP server: one Fastify instance, one error handler, body parsers for JSON and OAuth
// form posts, request ids echoed, and every route group registered.

import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { MandateError } from '../core/errors.js';
import { jsonBoundsProblem } from '../core/json-bounds.js';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Mandate } from '../mandate.js';
import { errorBody, handleError } from './error-handler.js';
import { registerAgentRoutes } from './routes/agents.js';
import { registerAuditRoutes } from './routes/audit.js';
import { registerAuthzenRoutes } from './routes/authzen.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerMcpRoutes } from './routes/mcp.js';
import { registerOAuthRoutes } from './routes/oauth.js';
import { registerAuthorizeRoutes } from './routes/authorize.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerPolicyRoutes } from './routes/policies.js';
import { registerReviewRoutes } from './routes/review.js';
import { registerReportRoutes } from './routes/report.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import { registerTaskRoutes } from './routes/tasks.js';
import { registerTokenRoutes } from './routes/tokens.js';
import { registerMetricsRoutes } from './routes/metrics.js';

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

/** One client address may hold at most `max` open connections; more are closed at once. */
function limitConnectionsPerClient(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const who = socket.remoteAddress ?? 'unknown';
    const n = (open.get(who) ?? 0) + 1;
    if (n > max) {
      socket.destroy();
      return;
    }
    open.set(who, n);
    socket.once('close', () => {
      const left = (open.get(who) ?? 1) - 1;
      if (left <= 0) open.delete(who);
      else open.set(who, left);
    });
  });
}

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
    serverFactory: (handler) => {
      const cfg = m.config.server;
      // Slow clients are cut off (headers, then the whole request) and keep-alive is bounded: a
      // few thousand slow-body connections must not hold file descriptors forever.
      const server = createServer(
        {
          headersTimeout: cfg.headersTimeout * 1000,
          requestTimeout: cfg.requestTimeout * 1000,
          keepAliveTimeout: cfg.keepAliveTimeout * 1000,
          connectionsCheckingInterval: Math.min(1000, cfg.headersTimeout * 500),
        },
        (req, res) => {
        const url = req.url ?? '';
        if (url === '/mcp' || url.startsWith('/mcp?')) {
          m.gateway.handle(req, res).catch((err) => {
            m.logger?.error({ err }, 'mcp request failed');
            // A store that cannot record is a 503 that says so (fail closed, and tell why).
            const storage = err instanceof MandateError && err.code === 'storage_unavailable';
            const body = { jsonrpc: '2.0', id: null, error: { code: -32603, message: storage ? (err as Error).message : 'internal error; the server log has details' } };
            if (!res.headersSent) res.writeHead(storage ? 503 : 500, { 'content-type': 'application/json' }).end(JSON.stringify(body));
            else res.end();
          });
          return;
        }
        if (url.startsWith('/http/')) {
          m.httpApi.handle(req, res).catch((err) => {
            m.logger?.error({ err }, 'http api request failed');
            const storage = err instanceof MandateError && err.code === 'storage_unavailable';
            const body = { error: storage ? 'storage_unavailable' : 'internal', error_description: storage ? (err as Error).message : 'internal error; the server log has details (nothing was forwarded unrecorded)' };
            if (!res.headersSent) res.writeHead(storage ? 503 : 500, { 'content-type': 'application/json' }).end(JSON.stringify(body));
            else res.end();
          });
          return;
        }
        handler(req, res);
        },
      );
      server.maxRequestsPerSocket = cfg.maxRequestsPerSocket;
      server.maxConnections = cfg.maxConnections;
      limitConnectionsPerClient(server, cfg.maxConnectionsPerClient);
      return server;
    },
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
    // Nothing recursive (Cedar marshalling, hashing, redaction) ever walks an unbounded body.
    const bounds = jsonBoundsProblem(req.body);
    if (bounds) throw new MandateError('invalid_request', `the request body ${bounds}: refused`);
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
  registerAuthorizeRoutes(app, m);
  registerConsoleRoutes(app, m);
  registerAuthzenRoutes(app, m);
  registerAgentRoutes(app, m);
  registerTaskRoutes(app, m);
  registerAuditRoutes(app, m);
  registerPolicyRoutes(app, m);
  registerReviewRoutes(app, m);
  registerReportRoutes(app, m);
  registerTokenRoutes(app, m);
  registerMcpRoutes(app, m);
  registerApprovalRoutes(app, m);
  registerMetricsRoutes(app, m);
  await app.ready();
  return app;
}
