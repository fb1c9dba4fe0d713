// JSON-RPC errors as Mandate sends them to agents. The MCP SDK puts "MCP error <code>: " in front
// of every McpError's message, and the agent's SDK puts it in front again when it receives one,
// so an error Mandate builds with the SDK's constructor reaches the agent prefixed twice. These
// carry the message as written; an upstream's error is passed on with the message it sent.

import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { redactKnownValues } from '../audit/redact.js';

const MCP_PREFIX = /^MCP error -?\d+: /;

/** A JSON-RPC error whose message goes out exactly as given. */
export function protocolError(code: number, message: string, data?: unknown): McpError {
  const e = new McpError(code, message, data);
  e.message = message;
  return e;
}

/**
 * The upstream's own JSON-RPC error, as the upstream sent it (the one prefix Mandate's SDK client
 * added is taken off; secrets Mandate knows are redacted). Null for timeouts (-32001) and lost
 * connections (-32000): those are Mandate's to describe.
 */
export function protocolErrorOf(err: unknown): McpError | null {
  if (!(err instanceof McpError) || err.code === -32000 || err.code === -32001) return null;
  return protocolError(err.code, redactKnownValues(err.message.replace(MCP_PREFIX, '')), err.data === undefined ? undefined : redactKnownValues(err.data));
}

/** A message without the SDK's prefix (for audit and for re-sending). */
export function unprefixed(message: string): string {
  return message.replace(MCP_PREFIX, '');
}
