// The one place errors become HTTP responses. A MandateError keeps its code and message; a
// Fastify/client error keeps its 4xx with a clear message; anything else is a generic 500 whose
// details stay in the server log.

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ZodError } from 'zod';
import { MandateError, type ErrorCode } from '../core/errors.js';

export function errorBody(code: string, description: string, extra?: Record<string, unknown>): Record<string, unknown> {
  return { error: code, error_description: description, ...(extra ?? {}) };
}

export function zodToMessage(err: ZodError, prefix = ''): string {
  return err.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
      const msg = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `\`${k}\``).join(', ')}` : i.message;
      return path ? `\`${path}\`: ${msg}` : msg;
    })
    .join('; ');
}

const FASTIFY_CODES: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'unsupported content type: send application/json (or application/x-www-form-urlencoded to /oauth endpoints)' },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'payload_too_large', message: 'request body is too large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_request', message: 'request body is empty: expected a JSON object' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: 'invalid_request', message: 'request body length does not match Content-Length' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_request' },
};

export function handleError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  // The MCP endpoint answers in JSON-RPC, even for a body that never parsed.
  if (req.url.split('?')[0] === '/mcp') {
    const fe = err as FastifyError;
    const status = fe.statusCode && fe.statusCode < 500 ? fe.statusCode : err instanceof MandateError ? err.status : 500;
    const parse = err instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || fe.code === 'FST_ERR_CTP_EMPTY_JSON_BODY';
    if (status >= 500) req.log.error({ err }, 'mcp request failed');
    const message = parse ? `parse error: ${err.message}` : status >= 500 ? `internal error (request ${req.id})` : err.message;
    void reply.status(parse ? 400 : status).send({ jsonrpc: '2.0', id: null, error: { code: parse ? -32700 : status === 413 ? -32600 : -32603, message } });
    return;
  }
  if (err instanceof MandateError) {
    if (!err.expose || err.status >= 500) req.log.error({ err }, 'request failed');
    if (err.status === 401) reply.header('WWW-Authenticate', `Bearer realm="mandate", error="${err.code === 'invalid_token' ? 'invalid_token' : 'invalid_request'}"`);
    const description = err.expose ? err.message : `internal error (request ${req.id})`;
    void reply.status(err.status).send(errorBody(err.expose ? err.code : 'internal', description, err.expose ? err.details : undefined));
    return;
  }
  if (err instanceof ZodError) {
    void reply.status(400).send(errorBody('invalid_request', zodToMessage(err)));
    return;
  }
  const fe = err as FastifyError;
  const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) {
    void reply.status(fe.statusCode ?? 400).send(errorBody(mapped.code, mapped.message ?? `request body is not valid JSON: ${fe.message}`));
    return;
  }
  if (err instanceof SyntaxError || (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)) {
    const status = fe.statusCode && fe.statusCode < 500 ? fe.statusCode : 400;
    const msg = err instanceof SyntaxError ? `request body is not valid JSON: ${err.message}` : fe.message;
    void reply.status(status).send(errorBody(status === 415 ? 'unsupported_media_type' : status === 413 ? 'payload_too_large' : 'invalid_request', msg));
    return;
  }
  req.log.error({ err }, 'unhandled error');
  void reply.status(500).send(errorBody('internal', `internal error (request ${req.id}); the server log has details`));
}
