// Holds the current policy engine; reload compiles a new set and swaps it in only if the whole
// set validates (a bad edit never takes effect), recording each new version.

import { ConflictError } from '../storage/errors.js';
import type { Clock } from '../core/clock.js';
import type { ToolSpec } from '../core/tool.js';
import type { PolicyStore } from '../storage/types.js';
import type { CedarValueJson } from './cedar.js';
import { compilePolicies, type CompiledPolicies, type PolicySources } from './compile.js';
import { PolicyEngine, type Decision, type DecisionRequest } from './engine.js';

export interface PolicyServiceOptions {
  policyDir: string;
  schemaPath: string;
  decisionCache: number;
}

export class PolicyService {
  private engine: PolicyEngine;
  private listeners = new Set<(version: string) => void>();
  versionNumber = 0;

  private constructor(
    private readonly opts: PolicyServiceOptions,
    private tools: ToolSpec[],
    compiled: CompiledPolicies,
    private readonly store: PolicyStore | null,
    private readonly clock: Clock,
  ) {
    this.engine = new PolicyEngine(compiled, { decisionCache: opts.decisionCache });
  }

  static async create(opts: PolicyServiceOptions, tools: ToolSpec[], store: PolicyStore | null, clock: Clock): Promise<PolicyService> {
    const compiled = compilePolicies({ policyDir: opts.policyDir, schemaPath: opts.schemaPath, tools });
    const svc = new PolicyService(opts, tools, compiled, store, clock);
    await svc.record(compiled);
    return svc;
  }

  get current(): PolicyEngine {
    return this.engine;
  }

  get version(): string {
    return this.engine.version;
  }

  decide(req: DecisionRequest): Decision {
    return this.engine.decide(req);
  }

  /** Compiles without swapping: what `policy validate` and what-if use. */
  compile(extra?: PolicySources['extra']): CompiledPolicies {
    return compilePolicies({ policyDir: this.opts.policyDir, schemaPath: this.opts.schemaPath, tools: this.tools, extra });
  }

  /** Recompiles from disk (and new tool definitions, if given); throws and keeps the old set on error. */
  async reload(tools?: ToolSpec[]): Promise<{ changed: boolean; version: string }> {
    const compiled = compilePolicies({ policyDir: this.opts.policyDir, schemaPath: this.opts.schemaPath, tools: tools ?? this.tools });
    if (tools) this.tools = tools;
    if (compiled.version === this.engine.version) return { changed: false, version: compiled.version };
    const old = this.engine;
    this.engine = new PolicyEngine(compiled, { decisionCache: this.opts.decisionCache });
    old.dispose();
    await this.record(compiled);
    for (const l of this.listeners) l(compiled.version);
    return { changed: true, version: compiled.version };
  }

  onReload(listener: (version: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async record(compiled: CompiledPolicies): Promise<void> {
    if (!this.store) return;
    // Replicas starting (or reloading) together race for the next number: the loser re-reads and
    // takes the winner's row when it is the same set, or the number after it.
    for (let attempt = 0; ; attempt++) {
      const latest = await this.store.latestPolicyVersion();
      if (latest?.hash === compiled.version) {
        this.versionNumber = latest.version;
        return;
      }
      const next = (latest?.version ?? 0) + 1;
      try {
        await this.store.insertPolicyVersion({
          version: next,
          hash: compiled.version,
          createdAt: this.clock.now(),
          source: 'files',
          files: [...compiled.files, { path: '(schema)', sha256: '', text: compiled.schemaText }],
        });
        this.versionNumber = next;
        return;
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 10) throw err;
      }
    }
  }
}

/** The `time` record every Mandate decision carries (UTC). */
export function timeContext(nowMs: number): Record<string, CedarValueJson> {
  const d = new Date(Math.floor(nowMs / 1000) * 1000);
  return {
    now: { __extn: { fn: 'datetime', arg: d.toISOString().replace('.000Z', 'Z') } },
    hour: d.getUTCHours(),
    weekday: d.getUTCDay(),
  };
}
