// The MCP endpoint for agents (streamable HTTP) and the upstream administration API.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Mandate } from '../../mandate.js';
import { requireAdmin } from '../auth.js';
import { parseWith } from './validate.js';

export function registerMcpRoutes(app: FastifyInstance, m: Mandate): void {
  for (const method of ['POST', 'GET', 'DELETE'] as const) {
    // Normally the server hands /mcp to the gateway before Fastify (see app.ts); this route serves
    // in-process requests (`app.inject`).
    app.route({
      method,
      url: '/mcp',
      handler: async (req, reply) => {
        reply.hijack();
        await m.gateway.handle(req.raw, reply.raw, req.body ?? undefined);
      },
    });
  }

  app.get('/api/v1/upstreams', async (req) => {
    await requireAdmin(m, req);
    return { upstreams: m.upstreams.status() };
  });

  app.get<{ Params: { name: string } }>('/api/v1/upstreams/:name/pins', async (req) => {
    await requireAdmin(m, req);
    const pins = await m.pins.list(req.params.name);
    return {
      upstream: req.params.name,
      tools: pins.map((p) => ({
        tool: p.tool,
        status: p.pendingHash ? (p.acceptedHash ? 'changed' : 'new') : 'accepted',
        accepted: p.acceptedDefinition,
        pending: p.pendingDefinition,
        acceptedHash: p.acceptedHash,
        pendingHash: p.pendingHash,
      })),
    };
  });

  app.post<{ Params: { name: string } }>('/api/v1/upstreams/:name/accept', async (req) => {
    const caller = await requireAdmin(m, req);
    const body = parseWith(z.object({ tools: z.array(z.string()).default([]) }).strict(), req.body ?? {});
    const accepted = await m.pins.accept(req.params.name, body.tools, caller.name);
    await m.upstreams.refresh(req.params.name);
    return { accepted: accepted.map((p) => p.tool) };
  });
}
