// Tool pinning (rug-pull protection): the first time an upstream's tools are seen, the hash of
// each definition (name, description, input schema, annotations) is recorded. Later, a changed
// definition or a new tool is hidden and denied until an admin accepts it; both are audited.

import type { AuditLog } from '../audit/audit-log.js';
import type { Clock } from '../core/clock.js';
import { canonicalJson } from '../core/canonical-json.js';
import { MandateError, q } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import type { ToolPin, ToolPinStore } from '../storage/types.js';
import type { DiscoveredTool } from './catalog.js';

export function pinnedDefinition(t: DiscoveredTool): Record<string, unknown> {
  // The output schema joined the pinned definition later: present only when declared, so pins of
  // tools without one keep their hash.
  return { name: t.name, description: t.description ?? '', inputSchema: t.inputSchema ?? {}, annotations: t.annotations ?? {}, ...(t.outputSchema ? { outputSchema: t.outputSchema } : {}) };
}

export function definitionHash(t: DiscoveredTool): string {
  return sha256Hex(canonicalJson(pinnedDefinition(t)));
}

/** The accepted (pinned) definitions of an upstream's tools. */
export async function acceptedDefinitions(store: Pick<ToolPinStore, 'listToolPins'>, upstream: string): Promise<DiscoveredTool[]> {
  const out: DiscoveredTool[] = [];
  for (const p of await store.listToolPins(upstream)) {
    const d = p.acceptedDefinition as { description?: string; inputSchema?: Record<string, unknown>; outputSchema?: Record<string, unknown>; annotations?: Record<string, unknown> } | null;
    if (!d || p.acceptedHash === null) continue;
    out.push({ name: p.tool, description: d.description, inputSchema: d.inputSchema, outputSchema: d.outputSchema, annotations: d.annotations && Object.keys(d.annotations).length ? d.annotations : undefined });
  }
  return out;
}

export interface PinReview {
  /** Tools whose current definition is the accepted one. */
  accepted: DiscoveredTool[];
  /** Tool name → why it is blocked. */
  blocked: Map<string, string>;
}

export class ToolPins {
  constructor(
    private readonly store: ToolPinStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /**
   * The accepted definitions of an upstream's tools, as last pinned: what the catalogue (and so
   * the Cedar schema) knows of an upstream that is not connected (down at start, or the CLI).
   */
  accepted(upstream: string): Promise<DiscoveredTool[]> {
    return acceptedDefinitions(this.store, upstream);
  }

  /** Compares what an upstream offers now with what was accepted, recording anything new or changed. */
  async review(upstream: string, tools: DiscoveredTool[]): Promise<PinReview> {
    let pins = new Map((await this.store.listToolPins(upstream)).map((p) => [p.tool, p]));
    const now = this.clock.now();
    if (pins.size === 0) {
      // First sight: everything offered now is accepted, recorded all at once (a replica starting
      // at the same moment records the same, or sees ours complete, never half).
      const seed = tools.map((t) => ({ upstream, tool: t.name, acceptedHash: definitionHash(t), acceptedDefinition: pinnedDefinition(t), pendingHash: null, pendingDefinition: null, firstSeen: now, updatedAt: now }));
      if (await this.store.seedToolPins(upstream, seed)) return { accepted: [...tools], blocked: new Map() };
      pins = new Map((await this.store.listToolPins(upstream)).map((p) => [p.tool, p]));
    }
    const accepted: DiscoveredTool[] = [];
    const blocked = new Map<string, string>();
    for (const t of tools) {
      const hash = definitionHash(t);
      const pin = pins.get(t.name);
      if (pin && pin.acceptedHash === hash) {
        if (pin.pendingHash) await this.store.putToolPin({ ...pin, pendingHash: null, pendingDefinition: null, updatedAt: now });
        accepted.push(t);
        continue;
      }
      const isNew = !pin || pin.acceptedHash === null;
      const reason = isNew
        ? `tool ${q(`${upstream}.${t.name}`)} is new at its upstream and not accepted yet (mandate upstream diff ${upstream}; mandate upstream accept ${upstream} ${t.name})`
        : `tool ${q(`${upstream}.${t.name}`)} changed its definition upstream and is blocked until an admin accepts it (mandate upstream diff ${upstream})`;
      blocked.set(t.name, reason);
      if (!pin || pin.pendingHash !== hash) {
        await this.store.putToolPin({
          upstream,
          tool: t.name,
          acceptedHash: pin?.acceptedHash ?? null,
          acceptedDefinition: pin?.acceptedDefinition ?? null,
          pendingHash: hash,
          pendingDefinition: pinnedDefinition(t),
          firstSeen: pin?.firstSeen ?? now,
          updatedAt: now,
        });
        await this.audit.record({
          type: isNew ? 'tool.new' : 'tool.changed',
          actor: 'system',
          outcome: 'blocked',
          data: { upstream, tool: t.name, acceptedHash: pin?.acceptedHash ?? null, pendingHash: hash },
        });
      }
    }
    return { accepted, blocked };
  }

  list(upstream?: string): Promise<ToolPin[]> {
    return this.store.listToolPins(upstream);
  }

  /**
   * Accepts the pending definitions of an upstream (all, or the named tools). With `expected`
   * (tool → pending hash), only the definition the person was shown: if the upstream changed it
   * again since, nothing is accepted.
   */
  async accept(upstream: string, tools: string[], actor: string, expected?: Record<string, string>): Promise<ToolPin[]> {
    const pins = await this.store.listToolPins(upstream);
    if (pins.length === 0) throw new MandateError('not_found', `no tools recorded for upstream ${q(upstream)}`);
    const pending = pins.filter((p) => p.pendingHash && (tools.length === 0 || tools.includes(p.tool)));
    const unknown = tools.filter((t) => !pins.some((p) => p.tool === t));
    if (unknown.length) throw new MandateError('not_found', `upstream ${q(upstream)} has no tool ${unknown.map((u) => q(u)).join(', ')}`);
    for (const [tool, hash] of Object.entries(expected ?? {})) {
      const p = pins.find((x) => x.tool === tool);
      if (p?.pendingHash && p.pendingHash !== hash) throw new MandateError('conflict', `the definition of ${q(`${upstream}.${tool}`)} changed again since it was shown: nothing was accepted; look at the new difference first`);
    }
    const now = this.clock.now();
    const done: ToolPin[] = [];
    for (const p of pending) {
      const next: ToolPin = { ...p, acceptedHash: p.pendingHash, acceptedDefinition: p.pendingDefinition, pendingHash: null, pendingDefinition: null, updatedAt: now };
      await this.store.putToolPin(next);
      await this.audit.record({ type: 'tool.accept', actor, outcome: 'success', data: { upstream, tool: p.tool, previousHash: p.acceptedHash, acceptedHash: p.pendingHash } });
      done.push(next);
    }
    return done;
  }
}
