// OpenTelemetry traces for the three things an operator follows through Mandate: a credential
// issued at the token endpoint, a tool call through the gateway, and inside it the decision and
// the upstream call. Off by default (`tracing.enabled`); when on, spans go to an OTLP/HTTP
// collector in batches, off the call path. The W3C `traceparent` an agent sends (HTTP header, or
// `_meta.traceparent` in the MCP request) becomes the parent, and the upstream span's context is
// passed on: as `traceparent` to HTTP APIs and in `_meta` to MCP servers.
//
// The provider is this Mandate's own (no global registration): several Mandates in one process
// (tests, the bench) keep separate pipelines. Attributes never carry arguments or results (they
// may be secrets): tool, upstream, agent, task, decision, policy ids, outcome.

import { context, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, TraceIdRatioBasedSampler, ParentBasedSampler } from '@opentelemetry/sdk-trace-base';

export interface TracingConfig {
  enabled: boolean;
  endpoint: string;
  headers: Record<string, string>;
  serviceName: string;
  sampleRatio: number;
}

const w3c = new W3CTraceContextPropagator();
const getter = {
  keys: (c: Record<string, unknown>) => Object.keys(c),
  get: (c: Record<string, unknown>, k: string) => {
    const v = c[k];
    return typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? (v[0] as string) : undefined;
  },
};
const setter = { set: (c: Record<string, string>, k: string, v: string) => void (c[k] = v) };

/** A started span with its context (to start children and propagate), or nothing when off. */
export interface Traced {
  span: Span;
  ctx: Context;
}

export class Tracing {
  private readonly provider: BasicTracerProvider | null;
  private readonly tracer: Tracer | null;

  constructor(cfg: TracingConfig, version: string) {
    if (!cfg.enabled) {
      this.provider = null;
      this.tracer = null;
      return;
    }
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': cfg.serviceName, 'service.version': version }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(cfg.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: cfg.endpoint, headers: cfg.headers }), { scheduledDelayMillis: 1000 })],
    });
    this.tracer = this.provider.getTracer('mandate', version);
  }

  get enabled(): boolean {
    return this.tracer !== null;
  }

  /** The parent context a caller sent: W3C headers (HTTP) or an MCP request's `_meta`. */
  parentFrom(carrier: Record<string, unknown> | undefined): Context {
    if (!this.tracer || !carrier) return context.active();
    return w3c.extract(context.active(), carrier, getter);
  }

  start(name: string, attributes: Record<string, string | number | boolean>, parent?: Context): Traced | null {
    if (!this.tracer) return null;
    const p = parent ?? context.active();
    const span = this.tracer.startSpan(name, { attributes }, p);
    return { span, ctx: trace.setSpan(p, span) };
  }

  /** `traceparent` (and `tracestate`) for a call made inside `t`, to pass downstream. */
  inject(t: Traced | null): Record<string, string> {
    if (!t) return {};
    const out: Record<string, string> = {};
    w3c.inject(t.ctx, out, setter);
    return out;
  }

  end(t: Traced | null, attributes: Record<string, string | number | boolean | undefined> = {}, error?: string): void {
    if (!t) return;
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) t.span.setAttribute(k, v);
    if (error) t.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    t.span.end();
  }

  /** Sends what is buffered (tests, shutdown). */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  async close(): Promise<void> {
    await this.provider?.shutdown();
  }
}
