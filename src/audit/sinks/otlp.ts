// Audit events as OTLP/HTTP logs JSON (opentelemetry-proto `ExportLogsServiceRequest`, JSON
// encoding): one log record per event, the whole event as its body, its chain position as
// attributes, so a collector keeps what a receiver needs to de-duplicate and check the chain.

import type { AuditEvent } from '../../storage/types.js';

type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | Record<string, never>;
interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface OtlpResource {
  serviceName: string;
  version: string;
}

/** SeverityNumber INFO and WARN (a denial). */
const INFO = 9;
const WARN = 13;

/** A JSON value as an OTLP AnyValue (null is the empty value; 64-bit integers are decimal strings, as the JSON encoding asks). */
export function anyValue(v: unknown): AnyValue {
  if (v === null || v === undefined) return {};
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isSafeInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(anyValue) } };
  if (typeof v === 'object') return { kvlistValue: { values: Object.entries(v as Record<string, unknown>).map(([key, x]) => ({ key, value: anyValue(x) })) } };
  return { stringValue: String(v) };
}

const attr = (key: string, value: unknown): KeyValue => ({ key, value: anyValue(value) });

export function otlpLogRecord(e: AuditEvent, body: Record<string, unknown>): Record<string, unknown> {
  const nanos = (BigInt(e.ts) * 1_000_000n).toString();
  const attributes = [attr('mandate.audit.seq', e.seq), attr('mandate.audit.hash', e.hash), attr('mandate.audit.prev_hash', e.prevHash), attr('mandate.audit.type', e.type), attr('mandate.audit.actor', e.actor)];
  for (const [key, v] of [['mandate.agent.id', e.agentId], ['mandate.task.id', e.taskId], ['mandate.decision', e.decision], ['mandate.outcome', e.outcome]] as const) {
    if (v !== null) attributes.push(attr(key, v));
  }
  const warn = e.decision === 'deny';
  return {
    timeUnixNano: nanos,
    observedTimeUnixNano: nanos,
    severityNumber: warn ? WARN : INFO,
    severityText: warn ? 'WARN' : 'INFO',
    eventName: e.type,
    body: anyValue(body),
    attributes,
  };
}

/** One export request for a batch of events. `body(e)`: the event as written to JSON Lines. */
export function otlpLogs(events: AuditEvent[], resource: OtlpResource, body: (e: AuditEvent) => Record<string, unknown>): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: [attr('service.name', resource.serviceName), attr('service.version', resource.version)] },
        scopeLogs: [{ scope: { name: 'mandate.audit', version: resource.version }, logRecords: events.map((e) => otlpLogRecord(e, body(e))) }],
      },
    ],
  };
}
