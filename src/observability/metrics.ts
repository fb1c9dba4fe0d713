// Prometheus metrics of one Mandate (`GET /metrics`): decisions per surface with a small class of
// reason, tool-call latency as the agent sees it and Mandate's own share of it, the durable audit
// append, store failures, and, read at scrape time, active tasks, pending approvals and upstream
// health. On by default (`metrics.enabled`); when off nothing is created and every method returns
// at once.
//
// Each Mandate has its own Registry, never prom-client's global one: several Mandates in one
// process (tests, the bench) keep separate counts. Process metrics (CPU, memory, event loop, GC)
// describe the process, not a Mandate: they are registered once per process, in a registry each
// scrape merges in (prom-client's event-loop monitor and GC observer cannot be stopped, so one
// per Mandate would pile up in a process that starts many).
//
// Cardinality: every label value comes from a fixed set below or is an upstream name from the
// configuration. Never a task, agent, session or decision id, a tool argument, or a reason's text.

import { createHash, timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Decision } from '../policy/engine.js';
import { INPUT_SCHEMA_POLICY_ID, PINNING_POLICY_ID, SCOPE_POLICY_ID } from '../gateway/authorize.js';
import type { WouldDeny } from '../gateway/observe.js';

export interface MetricsConfig {
  enabled: boolean;
  /** The bearer token a scraper must send (expanded from the config), or null: none asked. */
  token?: string | null;
}

/** Where a decision was asked for: an MCP tool call, an HTTP API request, the AuthZEN PDP, a task start or delegation at the token endpoint. */
export const SURFACES = ['mcp', 'http', 'authzen', 'token'] as const;
export type Surface = (typeof SURFACES)[number];

/** `would_deny`: observe mode let through what policy would have denied or held (see gateway/observe.ts). */
export const DECISIONS = ['allow', 'deny', 'approval_required', 'would_deny'] as const;
export type DecisionLabel = (typeof DECISIONS)[number];

/**
 * Why, in a word: `policy` (Cedar), `scope` (the task's declared scope), `budget` (a call limit),
 * `revoked` (the task or credential ended), `suspended` (the agent is stopped), `approval` (a
 * person's approval gates or granted it), `provenance` (a policy on where argument values come
 * from), `pin` (a tool's definition changed upstream), `input` (malformed or unknown request),
 * `error` (a policy that failed to evaluate, or a fault before any decision).
 */
export const REASON_CLASSES = ['policy', 'scope', 'budget', 'revoked', 'suspended', 'approval', 'provenance', 'pin', 'input', 'error'] as const;
export type ReasonClass = (typeof REASON_CLASSES)[number];

/** The outcomes of a tool call as the audit log records them (MCP and HTTP API). */
export const OUTCOMES = ['success', 'tool_error', 'upstream_error', 'denied', 'approval_pending', 'error'] as const;

/** Sub-millisecond to a minute (a call may wait for a person's approval). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Mandate's own share: from a tenth of a millisecond. */
const OVERHEAD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const APPEND_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** A call limit reached, in the task's own scope check or when charged (tasks/scope.ts, McpGateway.chargeCall). */
const BUDGET_REASON = /reached the task's limit of \d+ call|the budget of \d+ calls? of task .* is spent/;

/** What the gauges read at scrape time. */
export interface MetricsSources {
  activeTasks(): Promise<number>;
  pendingApprovals(): Promise<number>;
  /** Upstreams Mandate holds a connection to (MCP servers), and whether it is up. */
  upstreams(): Array<{ name: string; up: boolean }>;
  /** Whether a policy reads `context.provenance` or `context.untrustedArgs`. */
  readsProvenance(policyId: string): boolean;
}

/** The class of a decision's reason, from the policies that decided it (never from its text, but for a call limit). */
export function reasonClassOf(d: Decision & { wouldDeny?: WouldDeny | undefined }, readsProvenance: (policyId: string) => boolean): ReasonClass {
  if (d.errors.length) return 'error';
  const w = d.wouldDeny;
  const ids = w ? w.policyIds : d.policyIds;
  if (ids.includes(PINNING_POLICY_ID)) return 'pin';
  if (ids.includes(INPUT_SCHEMA_POLICY_ID)) return 'input';
  if (ids.includes(SCOPE_POLICY_ID)) return d.reasons.some((r) => BUDGET_REASON.test(r)) ? 'budget' : 'scope';
  // Held for a person, or allowed once one approved (the decision keeps its requirement).
  if ((w ? w.decision : d.decision) === 'approval_required' || d.approval) return 'approval';
  if ((w || d.decision === 'deny') && ids.some(readsProvenance)) return 'provenance';
  return 'policy';
}

type Inc = { inc(): void };
type Observe = { observe(v: number): void };
type CallChildren = { total: Observe; overhead: Observe };

let processRegistry: Registry | null = null;
/** Process metrics, registered once per process (see the header). */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export class Metrics {
  readonly enabled: boolean;
  readonly registry: Registry;
  private sources: MetricsSources | null = null;
  private readonly tokenDigest: Buffer | null;
  // Label children made once: a hot-path update is a property lookup and prom-client's own work.
  private readonly decisions: Record<Surface, Record<DecisionLabel, Record<ReasonClass, Inc>>> | null = null;
  private readonly calls: Record<'mcp' | 'http', Record<string, CallChildren>> | null = null;
  private readonly appends: Histogram | null = null;
  private readonly storeErrors: Counter<'op'> | null = null;

  /** Off: no registry content, no work. */
  static readonly off = new Metrics({ enabled: false });

  constructor(cfg: MetricsConfig) {
    this.enabled = cfg.enabled;
    this.registry = new Registry();
    this.tokenDigest = cfg.token ? sha256(cfg.token) : null;
    if (!cfg.enabled) return;
    const registers = [this.registry];
    const decisions = new Counter({ name: 'mandate_decisions_total', help: 'Decisions by surface (mcp, http, authzen, token), decision, and class of reason', labelNames: ['surface', 'decision', 'reason_class'] as const, registers });
    this.decisions = fill(SURFACES, (s) => fill(DECISIONS, (d) => fill(REASON_CLASSES, (r) => decisions.labels(s, d, r))));
    const total = new Histogram({ name: 'mandate_tool_call_duration_seconds', help: 'Tool calls (MCP, HTTP API) from request to answer, as the agent sees them', labelNames: ['surface', 'outcome'] as const, buckets: DURATION_BUCKETS, registers });
    const overhead = new Histogram({ name: 'mandate_tool_call_overhead_seconds', help: "Mandate's own time in a tool call: the whole call less the time waiting for the upstream and for a person's approval", labelNames: ['surface', 'outcome'] as const, buckets: OVERHEAD_BUCKETS, registers });
    this.calls = fill(['mcp', 'http'] as const, (s) => fill(OUTCOMES, (o) => ({ total: total.labels(s, o), overhead: overhead.labels(s, o) })));
    this.appends = new Histogram({ name: 'mandate_audit_append_duration_seconds', help: 'Durable appends to the audit log (one transaction per batch of events)', buckets: APPEND_BUCKETS, registers });
    this.storeErrors = new Counter({ name: 'mandate_store_errors_total', help: 'Store operations refused as unavailable (disk full, read-only, database unreachable, untrusted store), by store method', labelNames: ['op'] as const, registers });

    const self = this;
    // A store that cannot answer at scrape time leaves the last value (the failure counts in
    // mandate_store_errors_total): the scrape itself still succeeds.
    const fromStore = (name: string, help: string, read: (s: MetricsSources) => Promise<number>) => {
      let last = 0;
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          if (!self.sources) return;
          last = await read(self.sources).catch(() => last);
          this.set(last);
        },
      });
    };
    fromStore('mandate_active_tasks', 'Tasks active and unexpired (read from the store at scrape time)', (s) => s.activeTasks());
    fromStore('mandate_approvals_pending', 'Approval requests waiting for a person and unexpired (read from the store at scrape time)', (s) => s.pendingApprovals());
    new Gauge({
      name: 'mandate_upstream_up',
      help: 'Whether Mandate holds a live connection to an upstream MCP server (1) or not (0)',
      labelNames: ['upstream'] as const,
      registers,
      collect() {
        if (!self.sources) return;
        this.reset();
        for (const u of self.sources.upstreams()) this.set({ upstream: u.name }, u.up ? 1 : 0);
      },
    });
  }

  /** What the gauges read; given once the store and upstreams exist. */
  collectFrom(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** One decision outside the tool-call path (AuthZEN, the token endpoint), or a refusal before one (`d` undefined: `hint` says why). */
  decided(surface: Surface, d: (Decision & { wouldDeny?: WouldDeny | undefined }) | undefined, hint: ReasonClass | null = null): void {
    if (!this.decisions) return;
    const label: DecisionLabel = !d ? 'deny' : d.wouldDeny ? 'would_deny' : d.decision;
    const rc = hint ?? (d ? reasonClassOf(d, this.readsProvenance) : 'error');
    this.decisions[surface][label][rc].inc();
  }

  /**
   * The end of one tool call (MCP or HTTP API): its decision as recorded (`hint` overrides the
   * class when the refusal was not the decision's), its outcome, how long it took, and how much
   * of that was spent waiting for the upstream or a person.
   */
  toolCall(surface: 'mcp' | 'http', d: (Decision & { wouldDeny?: WouldDeny | undefined }) | undefined, hint: ReasonClass | null, outcome: string, seconds: number, waitedSeconds: number): void {
    if (!this.calls) return;
    this.decided(surface, d, hint);
    const c = this.calls[surface][outcome] ?? this.calls[surface].error!;
    c.total.observe(seconds);
    c.overhead.observe(Math.max(0, seconds - waitedSeconds));
  }

  /** One durable audit append (a batch), in seconds. */
  auditAppend(seconds: number): void {
    this.appends?.observe(seconds);
  }

  /** A store operation refused as unavailable; `op` is the store method (a fixed set). */
  storeError(op: string): void {
    this.storeErrors?.inc({ op });
  }

  /** Whether a scrape with this `Authorization` header is let in (any, when no token is configured); compared in constant time. */
  mayScrape(authorization: string | undefined): boolean {
    if (!this.tokenDigest) return true;
    const sent = /^Bearer +(\S+)$/i.exec(authorization ?? '')?.[1];
    return sent !== undefined && timingSafeEqual(sha256(sent), this.tokenDigest);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text: this Mandate's metrics and the process's. */
  async scrape(): Promise<string> {
    return Registry.merge([this.registry, processMetrics()]).metrics();
  }

  close(): void {
    this.sources = null;
    this.registry.clear();
  }

  private readonly readsProvenance = (id: string): boolean => this.sources?.readsProvenance(id) ?? false;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function fill<K extends string, V>(keys: readonly K[], make: (k: K) => V): Record<K, V> {
  const out = {} as Record<K, V>;
  for (const k of keys) out[k] = make(k);
  return out;
}

