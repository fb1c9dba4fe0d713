// Provenance of argument values. Mandate sees every tool result on its way to the agent and every
// argument on its way back: it records (per task tree, in the store, so every replica agrees) the
// values results showed the agent — untrusted ones (content others wrote) apart from trusted ones —
// and, for each call, tells policy where each argument's value appears:
//
//   context.provenance.<arg> ⊆ { "intent", "scope", "trusted", "untrusted", "new" }
//   context.untrustedArgs     the arguments with a value found only in untrusted results
//
// "intent" is the task's intent (the user's words), "scope" the values its grants name
// (constraints, resources), "new" a value seen nowhere. Values are stored as keyed hashes of their
// match keys (values.ts), never as text. Delegated tasks share their root task's index: what a
// sub-agent read can reach the parent agent's arguments, and the other way round.

import { createHmac } from 'node:crypto';
import type { ToolSpec } from '../core/tool.js';
import { VALUE_TRUSTED, VALUE_UNTRUSTED, type Task, type TaskValueBatch, type TaskValueStore } from '../storage/types.js';
import { keysOf, valuesIn } from './values.js';

export type ProvenanceLabel = 'intent' | 'scope' | 'trusted' | 'untrusted' | 'new';

export interface CallProvenance {
  /** Per argument (top level), where its value (or each element, each leaf) appears. */
  provenance: Record<string, ProvenanceLabel[]>;
  /** Arguments with a value (or an element) found only in untrusted results. */
  untrustedArgs: string[];
  /** For untrusted arguments: the call whose result first showed the value. */
  origins: Record<string, string>;
}

export const NO_PROVENANCE: CallProvenance = Object.freeze({ provenance: {}, untrustedArgs: [], origins: {} }) as CallProvenance;

export interface ProvenanceOptions {
  /** Values kept per task tree. */
  cap: number;
  /** Values taken from one result. */
  perResult: number;
}

/** The leaves of an argument value that can carry a value: strings and numbers, in arrays and objects. */
function leaves(v: unknown, out: Array<string | number> = [], depth = 0): Array<string | number> {
  if (depth > 16 || out.length > 256) return out;
  if (typeof v === 'string' || typeof v === 'number') out.push(v);
  else if (Array.isArray(v)) for (const e of v) leaves(e, out, depth + 1);
  else if (v && typeof v === 'object') for (const e of Object.values(v)) leaves(e, out, depth + 1);
  return out;
}

export class ProvenanceTracker {
  /** Keys of a task's intent and scope (they never change for a task): a few recent tasks. */
  private readonly trustedKeys = new Map<string, { intent: Set<string>; scope: Set<string> }>();
  private queue: Array<{ batch: TaskValueBatch; resolve: () => void; reject: (err: unknown) => void }> = [];
  private flushing = false;

  constructor(
    private readonly store: TaskValueStore,
    private readonly key: Buffer,
    private readonly opts: ProvenanceOptions = { cap: 50_000, perResult: 2_000 },
  ) {}

  private hash(k: string): string {
    return createHmac('sha256', this.key).update(k).digest('base64url').slice(0, 22);
  }

  /** The task whose index a task uses: the root of its delegation tree. */
  static rootOf(task: Pick<Task, 'id' | 'chain'>): string {
    return task.chain?.length ? task.chain[task.chain.length - 1]!.task : task.id;
  }

  private known(task: Task): { intent: Set<string>; scope: Set<string> } {
    let k = this.trustedKeys.get(task.id);
    if (!k) {
      const scopeValues: unknown[] = [...task.scope.resources];
      for (const g of task.scope.tools) {
        for (const c of Object.values(g.constraints ?? {})) {
          const x = c as { eq?: unknown; in?: unknown[]; like?: string };
          if (x.eq !== undefined) scopeValues.push(x.eq);
          if (x.in) scopeValues.push(...x.in);
          if (x.like) scopeValues.push(x.like.replace(/\*+$/, ''));
        }
      }
      k = { intent: valuesIn(task.intent), scope: valuesIn(scopeValues.filter((v) => typeof v === 'string' || typeof v === 'number')) };
      if (this.trustedKeys.size > 1000) this.trustedKeys.delete(this.trustedKeys.keys().next().value!);
      this.trustedKeys.set(task.id, k);
    }
    return k;
  }

  /**
   * Records what a result showed the task (after the call, before the agent sees it). Resolves
   * once it is in the store. Results recorded in the same tick go in together (group commit, as
   * audit does): under load one write transaction carries many calls' values.
   */
  record(task: Task, tool: Pick<ToolSpec, 'trust'>, result: unknown, origin: string): Promise<void> {
    const values = valuesIn(result, this.opts.perResult);
    if (!values.size) return Promise.resolve();
    const keys: string[] = [];
    for (const v of values) keys.push(this.hash(v));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ batch: { taskId: ProvenanceTracker.rootOf(task), keys, source: tool.trust === 'trusted' ? VALUE_TRUSTED : VALUE_UNTRUSTED, origin, cap: this.opts.cap }, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const pending = this.queue.splice(0, 500);
      try {
        await this.store.addTaskValuesMany(pending.map((p) => p.batch));
        for (const p of pending) p.resolve();
      } catch (err) {
        // Every call in the batch withholds its result (fail closed), each told why.
        for (const p of pending) p.reject(err);
      }
    }
    this.flushing = false;
  }

  /** Where each argument's value appears (one store read for all of them). */
  async of(task: Task, args: Record<string, unknown>): Promise<CallProvenance> {
    const known = this.known(task);
    const perArg: Array<[string, string[][]]> = [];
    const lookup = new Set<string>();
    for (const [name, v] of Object.entries(args)) {
      const elements = leaves(v).map((x) => keysOf(x)).filter((k) => k.length);
      if (!elements.length) continue;
      perArg.push([name, elements]);
      for (const keys of elements) for (const k of keys) if (!known.intent.has(k) && !known.scope.has(k)) lookup.add(this.hash(k));
    }
    if (!perArg.length) return NO_PROVENANCE;
    const seen = lookup.size ? await this.store.taskValues(ProvenanceTracker.rootOf(task), [...lookup]) : new Map<string, { sources: number; origin: string }>();
    const out: CallProvenance = { provenance: {}, untrustedArgs: [], origins: {} };
    for (const [name, elements] of perArg) {
      const labels = new Set<ProvenanceLabel>();
      let onlyUntrusted = false;
      for (const keys of elements) {
        const mine = new Set<ProvenanceLabel>();
        let origin: string | undefined;
        for (const k of keys) {
          if (known.intent.has(k)) mine.add('intent');
          if (known.scope.has(k)) mine.add('scope');
          const s = seen.get(this.hash(k));
          if (s) {
            if (s.sources & VALUE_TRUSTED) mine.add('trusted');
            if (s.sources & VALUE_UNTRUSTED) {
              mine.add('untrusted');
              origin ??= s.origin;
            }
          }
        }
        if (!mine.size) mine.add('new');
        if (mine.size === 1 && mine.has('untrusted')) {
          onlyUntrusted = true;
          if (origin && !out.origins[name]) out.origins[name] = origin;
        }
        for (const l of mine) labels.add(l);
      }
      out.provenance[name] = [...labels].sort();
      if (onlyUntrusted) out.untrustedArgs.push(name);
    }
    return out;
  }
}
