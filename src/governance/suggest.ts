// Least-privilege suggestions from evidence: the Cedar permits (and a task template) that would
// allow exactly what one agent ran over a window, generalised conservatively, each citing its
// evidence — then checked: validated alone against the deployment's schema, and every call of the
// window replayed through the real authorizer with only the suggested set in force.
//
// Evidence is read in pages (twice: once to learn, once to replay); per argument at most
// MAX_TRACKED distinct values are held, and the common prefixes are kept as the values stream by.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { taskTemplateSchema } from '../config/schema.js';
import { MandateError, q } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import type { ResourceKind, ToolLookup, ToolSpec } from '../core/tool.js';
import { CallAuthorizer } from '../gateway/authorize.js';
import { explain } from '../gateway/explain.js';
import type { CedarType } from '../policy/arg-types.js';
import type { Decision } from '../policy/engine.js';
import { PolicyService } from '../policy/policy-service.js';
import type { Mandate } from '../mandate.js';
import type { Agent, AuditEvent, Task } from '../storage/types.js';

/** Distinct values kept per argument; past this only the common prefixes are known. */
const MAX_TRACKED = 1000;
/** A non-resource string argument with at most this many distinct values is limited to them. */
const MAX_ENUM = 5;
/** A resource argument without a useful common prefix is limited to its values, up to this many. */
const MAX_EXACT = 50;
/** URL arguments spanning more origins than this get one exact set instead of one prefix each. */
const MAX_ORIGINS = 5;
/** Denied calls listed in the replay (the rest are counted). */
const MAX_LISTED = 200;
const PAGE = 2000;

type Deps = Pick<Mandate, 'store' | 'agents' | 'tools' | 'policy' | 'config' | 'clock'>;

export interface SuggestOptions {
  since: number;
  until: number;
}

export interface ArgRule {
  arg: string;
  /** The resource kind the argument names, per the tool's config. */
  kind: ResourceKind | null;
  /** Distinct values seen (null: more than could be counted). */
  distinct: number | null;
  /** Some of them (none for sensitive, redacted or cut values). */
  values: string[];
  /** The Cedar condition, or null when the argument is left unconstrained. */
  condition: string | null;
  /** Why: the generalisation made, or why none was. */
  note: string;
}

export interface ToolEvidence {
  tool: string;
  policyId: string;
  calls: number;
  wouldDeny: number;
  firstSeen: number;
  lastSeen: number;
  seq: { first: number; last: number };
  args: ArgRule[];
}

export interface ReplayedCall {
  seq: number;
  ts: number;
  tool: string;
  /** What happened at the time: allowed, allowed in observe mode though policy would deny, refused, held for approval. */
  was: 'allow' | 'would_deny' | 'deny' | 'approval_required';
  reason: string;
}

export interface Suggestion {
  agent: { id: string; name: string };
  window: { since: number; until: number };
  evidence: {
    /** `tool.call` events of the agent in the window. */
    calls: number;
    /** Calls that ran (allowed, including would-deny ones). */
    used: number;
    wouldDeny: number;
    /** Calls refused or held for an approval that did not come. */
    denied: number;
    tools: ToolEvidence[];
    /** Tools that ran but cannot be suggested (no longer in the catalogue). */
    skipped: Array<{ tool: string; calls: number; reason: string }>;
  };
  /** File names the CLI writes (`--out`). */
  files: { policies: string; templates: string };
  policies: string;
  templates: string;
  validation: { valid: boolean; errors: string[]; warnings: string[] };
  /** Every call of the window decided with only the suggested policies; null when they do not validate. */
  replay: {
    calls: number;
    /** Of the calls that ran, how many the suggestion allows (all, unless something below says why). */
    used: number;
    usedAllowed: number;
    allowed: number;
    denied: number;
    deniedCalls: ReplayedCall[];
    /** Denied calls not listed (over MAX_LISTED). */
    deniedOmitted: number;
    /** What replay cannot reproduce from the audit record. */
    notes: string[];
  } | null;
}

// ---------------------------------------------------------------------------------------------
// Cedar text

const RESERVED = new Set(['true', 'false', 'if', 'then', 'else', 'in', 'like', 'has', 'is', 'principal', 'action', 'resource', 'context', 'permit', 'forbid', 'when', 'unless']);

function escapeChars(s: string, star: boolean): string {
  let out = '';
  for (const c of s) {
    const code = c.codePointAt(0)!;
    if (c === '\\') out += '\\\\';
    else if (c === '"') out += '\\"';
    else if (star && c === '*') out += '\\*';
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || code === 0x2028 || code === 0x2029) out += `\\u{${code.toString(16)}}`;
    else out += c;
  }
  return out;
}

/** A Cedar string literal. */
export function cedarString(s: string): string {
  return `"${escapeChars(s, false)}"`;
}

/** A Cedar `like` pattern matching `prefix` followed by anything (a `*` in the prefix is literal). */
export function cedarPrefixPattern(prefix: string): string {
  return `"${escapeChars(prefix, true)}*"`;
}

/** `context.args.<name>`, or `context.args["<name>"]` when the name is not an identifier. */
function argExpr(name: string): { get: string; has: string } {
  const plain = /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !RESERVED.has(name);
  return plain ? { get: `context.args.${name}`, has: `context.args has ${name}` } : { get: `context.args[${cedarString(name)}]`, has: `context.args has ${cedarString(name)}` };
}

/** A value for a comment: quoted, escaped, short, on one line (a value must never end a comment). */
function show(v: string): string {
  const cut = v.length > 60 ? `${v.slice(0, 57)}...` : v;
  return JSON.stringify(cut).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Dynamic text inside a `//` comment: nothing in it may end the line (and start policy text). */
const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

// ---------------------------------------------------------------------------------------------
// Generalisation

/** Longest common prefix. */
function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}

/** The values of one argument (or one URI group) as they stream by. */
export class ValueTracker {
  readonly values = new Set<string>();
  overflow = false;
  count = 0;
  /** Per group (origin, scheme): common prefix of `value + "/"` and the shortest value. */
  readonly groups = new Map<string, { prefix: string; shortest: string }>();
  groupOverflow = false;

  add(v: string, group = ''): void {
    this.count++;
    if (!this.overflow) {
      this.values.add(v);
      if (this.values.size > MAX_TRACKED) {
        this.overflow = true;
        this.values.clear();
      }
    }
    const g = this.groups.get(group);
    if (g) {
      g.prefix = commonPrefix(g.prefix, `${v}/`);
      if (v.length < g.shortest.length) g.shortest = v;
    } else if (this.groups.size < MAX_ORIGINS * 4) this.groups.set(group, { prefix: `${v}/`, shortest: v });
    else this.groupOverflow = true;
  }

  get distinct(): number | null {
    return this.overflow ? null : this.values.size;
  }
}

/** What a set of resource values generalises to: exact values and/or prefixes (each followed by anything). */
export interface Generalised {
  exact: string[];
  prefixes: string[];
  note: string;
}

/** The group a resource value belongs to (its origin for http(s), its scheme otherwise; paths: one group). */
export function groupOf(kind: ResourceKind | 'http-path', v: string): string | null {
  if (kind === 'path' || kind === 'http-path') return '';
  if (kind === 'email') return '';
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(v)?.[1]?.toLowerCase();
  if (!scheme) return null;
  if (scheme === 'http' || scheme === 'https') {
    try {
      return new URL(v).origin;
    } catch {
      return null;
    }
  }
  return `${scheme}:`;
}

/** A directory prefix that would allow everything under a scheme or the root: not a generalisation. */
function trivial(kind: ResourceKind | 'http-path', group: string, dir: string): boolean {
  if (kind === 'path' || kind === 'http-path') return dir === '/' || dir === '';
  if (/^https?:\/\//.test(group)) return !dir.startsWith(`${group}/`);
  return /^[a-z][a-z0-9+.-]*:\/*$/i.test(dir) || dir.length <= group.length;
}

/**
 * Resource values → the narrowest useful description: one value is itself; several under a
 * common directory are that directory (per origin for URLs); otherwise the exact set (if small).
 * Emails are always the exact set. Null: no bound could be found (too many unrelated values).
 */
export function generalise(kind: ResourceKind | 'http-path', t: ValueTracker): Generalised | null {
  if (t.distinct === 1) return { exact: [...t.values], prefixes: [], note: '1 value, exactly it' };
  const exactSet = (why: string): Generalised | null => {
    if (t.distinct === null || t.distinct > MAX_EXACT) return null;
    return { exact: [...t.values].sort(), prefixes: [], note: `${t.distinct} distinct values${why}, exactly those` };
  };
  if (kind === 'email') return exactSet('');
  if (t.groupOverflow || t.groups.size > MAX_ORIGINS) return exactSet(` across ${t.groupOverflow ? 'many' : t.groups.size} ${kind === 'url' || kind === 'uri' ? 'origins' : 'groups'}`);
  const exact: string[] = [];
  const prefixes: string[] = [];
  for (const [group, g] of [...t.groups].sort(([a], [b]) => a.localeCompare(b))) {
    const dir = g.prefix.slice(0, g.prefix.lastIndexOf('/') + 1);
    if (trivial(kind, group, dir)) return exactSet(` with no common directory${group ? ` under ${show(group)}` : ''}`);
    // A group of one value (known when every value is tracked) stays that value.
    const members = t.distinct === null ? null : [...t.values].filter((v) => groupOf(kind, v) === group);
    if (members && members.length === 1) {
      exact.push(members[0]!);
      continue;
    }
    prefixes.push(dir);
    // The directory itself was named too (`/reports` next to `/reports/q1.txt`).
    if (`${g.shortest}/` === dir) exact.push(g.shortest);
  }
  const parts = [...prefixes.map((p) => `under ${show(p)}`), ...exact.map((e) => show(e))];
  return { exact: exact.sort(), prefixes: prefixes.sort(), note: `${t.distinct ?? `over ${MAX_TRACKED}`} distinct values, allowed: ${parts.join(' or ')}` };
}

/** The Cedar condition for a generalised string expression. */
function stringCondition(expr: string, g: Generalised): string {
  const parts: string[] = [];
  if (g.exact.length === 1) parts.push(`${expr} == ${cedarString(g.exact[0]!)}`);
  else if (g.exact.length > 1) parts.push(`[${g.exact.map(cedarString).join(', ')}].contains(${expr})`);
  for (const p of g.prefixes) parts.push(`${expr} like ${cedarPrefixPattern(p)}`);
  return parts.length === 1 ? parts[0]! : `(${parts.join(' || ')})`;
}

/** Task resource patterns (globs: `*` matches anything) for a generalised set of URIs. */
function resourcePatterns(g: Generalised): string[] {
  return [...g.exact, ...g.prefixes.map((p) => `${p}*`)];
}

// ---------------------------------------------------------------------------------------------
// Evidence

interface ArgState {
  present: number;
  /** Why the values cannot be used in a condition (redacted, cut, not a string …), or null. */
  opaque: string | null;
  values: ValueTracker;
}

interface ToolState {
  spec: ToolSpec | undefined;
  calls: number;
  wouldDeny: number;
  firstSeen: number;
  lastSeen: number;
  firstSeq: number;
  lastSeq: number;
  args: Map<string, ArgState>;
  /** HTTP API methods: the canonical paths requested. */
  httpPaths: ValueTracker;
}

const REDACTED_OR_CUT = /\[redacted\]|…\(\d+ chars\)$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function recordArg(st: ArgState, kind: ResourceKind | undefined, v: unknown): void {
  st.present++;
  const one = (x: unknown) => {
    if (typeof x !== 'string') {
      st.opaque ??= 'values are not strings';
      return;
    }
    if (REDACTED_OR_CUT.test(x)) {
      st.opaque ??= 'values are redacted or cut short in audit';
      return;
    }
    const group = kind ? groupOf(kind, x) : '';
    if (group === null) {
      st.opaque ??= `a value is not a ${kind}`;
      return;
    }
    st.values.add(x, group);
  };
  if (Array.isArray(v)) {
    // Audit keeps at most 50 elements of an array: a full one may have been cut.
    if (v.length >= 50) st.opaque ??= 'arrays are cut short in audit';
    for (const x of v) one(x);
  } else one(v);
}

async function* agentCalls(m: Pick<Mandate, 'store'>, agentId: string, o: SuggestOptions): AsyncGenerator<AuditEvent> {
  let after: number | undefined;
  for (;;) {
    const page = await m.store.listAudit({ agentId, type: 'tool.call', since: o.since, until: o.until, limit: PAGE, ...(after !== undefined ? { afterSeq: after } : {}) });
    for (const e of page) yield e;
    if (page.length < PAGE) return;
    after = page[page.length - 1]!.seq;
  }
}

const ranAt = (e: AuditEvent) => e.decision === 'allow';
const toolOf = (e: AuditEvent) => (typeof (e.data as { tool?: unknown }).tool === 'string' ? ((e.data as { tool: string }).tool) : null);

// ---------------------------------------------------------------------------------------------
// Rendering

/** Distinct values shown in a rule's comment and report. */
const SHOWN = 8;

function argRules(spec: ToolSpec, st: ToolState, argType: Extract<CedarType, { kind: 'Record' }> | undefined): ArgRule[] {
  const rules: ArgRule[] = [];
  const names = new Set([...Object.keys(argType?.attrs ?? {}), ...st.args.keys(), ...Object.keys(spec.resources)]);
  const sensitive = new Set(spec.sensitive ?? []);
  for (const name of [...names].sort()) {
    const a = st.args.get(name);
    const kind = spec.resources[name] ?? null;
    const attr = argType?.attrs[name];
    const distinct = a ? a.values.distinct : 0;
    const hidden = !a || a.opaque !== null || sensitive.has(name);
    const rule = (condition: string | null, note: string) => rules.push({ arg: name, kind, distinct, condition, note, values: hidden ? [] : [...a.values.values].sort().slice(0, SHOWN) });
    if (!attr) {
      if (a) rule(null, 'not typed in the Cedar schema (no input schema for it): not constrained');
      continue;
    }
    const e = argExpr(name);
    if (!a || a.present === 0) {
      // An unused argument naming resources stays unused: anything else is a new reach.
      if (kind && !attr.required) rule(`!(${e.has})`, 'never given: must stay absent');
      continue;
    }
    const optional = !attr.required;
    const always = a.present === st.calls;
    // (`if … has … then` rather than `!has || …`: Cedar's validator proves safe access only so.)
    const guard = (cond: string) => (!optional ? cond : always ? `${e.has} && ${cond}` : `(if ${e.has} then ${cond} else true)`);
    const given = optional && !always ? `; given in ${a.present} of ${st.calls} calls` : '';
    const many = `${distinct ?? `over ${MAX_TRACKED}`} distinct values`;
    if (sensitive.has(name)) {
      rule(null, 'sensitive: values are not written into policy, not constrained');
      continue;
    }
    if (a.opaque) {
      rule(null, `${a.opaque}: not constrained`);
      continue;
    }
    const t = attr.type;
    if (kind && t.kind === 'String') {
      const g = generalise(kind, a.values);
      if (!g) rule(null, `${many} with no common prefix: not constrained (review by hand)`);
      else rule(guard(stringCondition(e.get, g)), `${g.note}${given}`);
    } else if (kind && t.kind === 'Set' && t.element.kind === 'String') {
      if (distinct === null || distinct > MAX_EXACT) rule(null, `${many} in lists: not constrained (review by hand)`);
      else rule(guard(`[${[...a.values.values].sort().map(cedarString).join(', ')}].containsAll(${e.get})`), `lists of ${distinct} distinct values, only those${given}`);
    } else if (!kind && t.kind === 'String' && distinct !== null && distinct <= MAX_ENUM) {
      const vals = [...a.values.values].sort();
      rule(guard(vals.length === 1 ? `${e.get} == ${cedarString(vals[0]!)}` : `[${vals.map(cedarString).join(', ')}].contains(${e.get})`), `${distinct} distinct value${distinct > 1 ? 's' : ''}, exactly ${distinct > 1 ? 'those' : 'it'}${given}`);
    } else {
      rule(null, t.kind === 'String' ? `${many} (over ${MAX_ENUM}): not constrained` : `${t.kind === 'Set' ? 'a list' : t.kind === 'Record' ? 'an object' : `a ${t.kind}`}: not constrained`);
    }
  }
  return rules;
}

function httpRule(st: ToolState): ArgRule {
  const t = st.httpPaths;
  const values = [...t.values].sort().slice(0, SHOWN);
  const g = generalise('http-path', t);
  if (!g) return { arg: 'http.path', kind: 'path', distinct: t.distinct, condition: null, note: `${t.distinct ?? `over ${MAX_TRACKED}`} distinct values with no common prefix: not constrained (review by hand)`, values };
  return { arg: 'http.path', kind: 'path', distinct: t.distinct, condition: stringCondition('context.http.path', g), note: g.note, values };
}

function ruleComment(r: ArgRule): string {
  const more = r.distinct !== null && r.distinct > r.values.length ? ` (+${r.distinct - r.values.length} more)` : '';
  const seen = r.values.length ? `; seen ${r.values.map(show).join(', ')}${more}` : '';
  return `//   ${oneLine(r.arg)}${r.kind ? ` (${r.kind})` : ''}: ${oneLine(r.note)}${seen}`;
}

function permitText(agent: Pick<Agent, 'id' | 'name'>, st: ToolState, tool: string, policyId: string, rules: ArgRule[]): string {
  const lines = [
    `// ${oneLine(tool)}: ${st.calls} call${st.calls > 1 ? 's' : ''}${st.wouldDeny ? ` (${st.wouldDeny} would-deny in observe mode)` : ''}, first ${iso(st.firstSeen)}, last ${iso(st.lastSeen)}, audit seq ${st.firstSeq}..${st.lastSeq}`,
    ...rules.map(ruleComment),
    `@id(${cedarString(policyId)})`,
    `@reason(${cedarString(`used by ${agent.name}: ${st.calls} call${st.calls > 1 ? 's' : ''} between ${iso(st.firstSeen)} and ${iso(st.lastSeen)}`)})`,
    `permit (principal == Agent::${cedarString(agent.id)}, action == Action::${cedarString(tool)}, resource)`,
  ];
  const conds = rules.filter((r) => r.condition).map((r) => r.condition!);
  if (conds.length) lines.push(`when {\n  ${conds.join(' &&\n  ')}\n};`);
  else lines[lines.length - 1] += ';';
  return lines.join('\n');
}

/** A template key from an agent name (letters, digits, `_`, `-`). */
const templateKey = (name: string) => `suggested-${name.replace(/[^A-Za-z0-9_-]/g, '-')}`;

// ---------------------------------------------------------------------------------------------
// The suggested set, opened for decisions

export interface SuggestedSet {
  warnings: string[];
  /**
   * How the suggested set alone decides this agent calling this tool with these (recorded)
   * arguments: the real authorizer, in a hypothetical task granting just that tool (as
   * `policy explain` does), so scope never hides what policy would say.
   */
  decide(agent: Agent, tool: string, args: unknown, recorded?: { http?: unknown; resources?: unknown }): Decision;
  /** May the agent ask for this tool when it starts a task (`startTask`, as `policy explain --start`)? */
  decideStart(agent: Agent, tool: string): Decision;
  close(): void;
}

/**
 * Compiles `cedar` alone against the deployment's schema and tool catalogue (throws
 * `policy_invalid` with every problem) and returns a decider over it.
 */
export async function openSuggestedSet(m: { tools: ToolLookup; config: { schemaPath: string }; clock: Clock }, cedar: string, file = 'suggested.cedar'): Promise<SuggestedSet> {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-suggest-'));
  let policy: PolicyService;
  try {
    writeFileSync(join(dir, file), cedar);
    policy = await PolicyService.create({ policyDir: dir, schemaPath: m.config.schemaPath, decisionCache: 0 }, m.tools.listTools(), null, m.clock);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const authorizer = new CallAuthorizer(policy, m.clock);
  const deps = { policy, tools: m.tools, authorizer, clock: m.clock };
  return {
    warnings: policy.current.compiled.warnings,
    decide(agent, toolName, rawArgs, recorded) {
      const tool = m.tools.getTool(toolName);
      const args = isObject(rawArgs) ? rawArgs : {};
      if (!tool) return { id: 'replay', decision: 'deny', policyIds: [], reasons: [`unknown tool ${q(toolName)}`], errors: [], policyVersion: policy.version, evaluated: 0 };
      if (tool.kind !== 'http') return explain({ agent, tool: tool.name, args, intent: '(replay)' }, deps).decision;
      return authorizer.authorizeHttp({ agent, task: whatIfTask(agent, tool, m.clock.now()), tool, ...httpRequest(args, recorded), callsOf: () => 0 });
    },
    decideStart(agent, toolName) {
      return explain({ agent, tool: toolName, action: 'startTask', intent: '(replay)' }, deps).decision;
    },
    close() {
      policy.current.dispose();
    },
  };
}

/** The hypothetical task `policy explain` uses: just this tool, any resource. */
function whatIfTask(agent: Agent, tool: ToolSpec, now: number): Task {
  return { id: 'task_whatif', agentId: agent.id, parentId: null, depth: 0, intent: '(replay)', scope: { tools: [{ name: tool.name }], resources: ['*'] }, status: 'active', labels: [], createdAt: now, expiresAt: now + 600_000, endedAt: null, endReason: null, decisionId: null };
}

/**
 * An HTTP API request as far as its audit record tells it (method, canonical path, query, JSON
 * body). Headers, content type and size are not recorded: policies reading them replay with none.
 */
function httpRequest(args: Record<string, unknown>, recorded: { http?: unknown; resources?: unknown } | undefined) {
  const http = isObject(recorded?.http) ? recorded.http : undefined;
  const path = typeof http?.path === 'string' ? http.path : typeof args.path === 'string' ? args.path : '/';
  const query: Record<string, string | string[]> = isObject(args.query) ? (args.query as Record<string, string | string[]>) : {};
  const pairs: Array<[string, string]> = Object.entries(query).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, String(x)] as [string, string]) : [[k, String(v)] as [string, string]]));
  const body = args.body;
  return {
    args: { path, query, ...(body !== undefined ? { body } : {}) },
    http: { method: typeof http?.method === 'string' ? http.method : String(args.method ?? ''), path, query: pairs.map(([k, v]) => `${k}=${v}`), queryString: new URLSearchParams(pairs).toString(), headers: [], contentType: body !== undefined ? 'application/json' : '', bodyBytes: body !== undefined ? JSON.stringify(body).length : 0 },
    resource: Array.isArray(recorded?.resources) && typeof recorded.resources[0] === 'string' ? recorded.resources[0] : path,
  };
}

// ---------------------------------------------------------------------------------------------
// The suggestion

/** What one agent ran, learnt from its `tool.call` events one at a time (oldest first). */
export class Evidence {
  calls = 0;
  used = 0;
  wouldDeny = 0;
  readonly tools = new Map<string, ToolState>();
  /** Resource URIs the calls that ran named (for the template's resources). */
  readonly resources = new ValueTracker();
  readonly intents = new Map<string, number>();

  constructor(private readonly lookup: (tool: string) => ToolSpec | undefined) {}

  add(e: AuditEvent): void {
    this.calls++;
    const name = toolOf(e);
    if (!ranAt(e) || !name) return;
    this.used++;
    const d = e.data as { args?: unknown; resources?: unknown; wouldDeny?: unknown; intent?: unknown; http?: { path?: unknown } };
    if (d.wouldDeny) this.wouldDeny++;
    let st = this.tools.get(name);
    if (!st) this.tools.set(name, (st = { spec: this.lookup(name), calls: 0, wouldDeny: 0, firstSeen: e.ts, lastSeen: e.ts, firstSeq: e.seq, lastSeq: e.seq, args: new Map(), httpPaths: new ValueTracker() }));
    st.calls++;
    if (d.wouldDeny) st.wouldDeny++;
    st.lastSeen = e.ts;
    st.lastSeq = e.seq;
    if (typeof d.intent === 'string') this.intents.set(d.intent, (this.intents.get(d.intent) ?? 0) + 1);
    if (Array.isArray(d.resources)) {
      for (const r of d.resources) {
        if (typeof r !== 'string' || REDACTED_OR_CUT.test(r)) continue;
        const g = groupOf('uri', r);
        if (g !== null) this.resources.add(r, g);
      }
    }
    if (!st.spec) return;
    if (st.spec.kind === 'http') {
      if (typeof d.http?.path === 'string') st.httpPaths.add(d.http.path);
      return;
    }
    const args = isObject(d.args) ? d.args : {};
    for (const [k, v] of Object.entries(args)) {
      if (v === undefined || v === null) continue;
      let a = st.args.get(k);
      if (!a) st.args.set(k, (a = { present: 0, opaque: null, values: new ValueTracker() }));
      recordArg(a, st.spec.resources[k], v);
    }
  }
}

export interface Rendered {
  policies: string;
  templates: string;
  templateKey: string;
  template: { title: string; intent: string; tools: string[]; resources: string[]; ttl: number };
  tools: ToolEvidence[];
  skipped: Suggestion['evidence']['skipped'];
}

/**
 * The suggested Cedar (one permit per tool that ran, and the `startTask` permit) and the task
 * template, from evidence with at least one call that ran. `argTypes`: the compiled schema's.
 */
export function renderSuggestion(agent: Pick<Agent, 'id' | 'name'>, ev: Evidence, argTypes: Map<string, Extract<CedarType, { kind: 'Record' }>>, o: SuggestOptions): Rendered {
  const window = `between ${iso(o.since)} and ${iso(o.until)}`;
  const tools: ToolEvidence[] = [];
  const skipped: Rendered['skipped'] = [];
  const blocks: string[] = [];
  for (const [tool, st] of [...ev.tools].sort(([a], [b]) => a.localeCompare(b))) {
    if (!st.spec) {
      skipped.push({ tool, calls: st.calls, reason: 'no longer in the tool catalogue' });
      continue;
    }
    const policyId = `suggested.${agent.name}.${tool}`;
    const rules = st.spec.kind === 'http' ? [httpRule(st)] : argRules(st.spec, st, argTypes.get(tool));
    tools.push({ tool, policyId, calls: st.calls, wouldDeny: st.wouldDeny, firstSeen: st.firstSeen, lastSeen: st.lastSeen, seq: { first: st.firstSeq, last: st.lastSeq }, args: rules });
    blocks.push(permitText(agent, st, tool, policyId, rules));
  }
  if (!tools.length) {
    throw new MandateError('not_found', `agent ${q(agent.name)} ran only tools that are no longer in the catalogue (${skipped.map((x) => q(x.tool)).join(', ')}) ${window}: nothing to suggest`);
  }
  const names = tools.map((t) => t.tool);
  blocks.push(
    [
      `// startTask: ${agent.name} may ask for the ${names.length} tool${names.length > 1 ? 's' : ''} it used, and nothing else`,
      `@id(${cedarString(`suggested.${agent.name}.startTask`)})`,
      `@reason(${cedarString(`${agent.name} may start tasks with the tools it used ${window}`)})`,
      `permit (principal == Agent::${cedarString(agent.id)}, action == Action::"startTask", resource is Tool)`,
      `when { [${names.map((n) => `Tool::${cedarString(n)}`).join(', ')}].contains(resource) };`,
    ].join('\n'),
  );
  const first = Math.min(...tools.map((t) => t.seq.first));
  const last = Math.max(...tools.map((t) => t.seq.last));
  const used = tools.reduce((n, t) => n + t.calls, 0);
  const header = [
    `// Suggested by \`mandate policy suggest\` for agent ${agent.name} (${agent.id}),`,
    `// from the ${used} call${used > 1 ? 's' : ''} it ran ${window} (audit seq ${first}..${last}).`,
    '// Each permit allows only what was used, generalised as its comment says. Review before use.',
  ].join('\n');

  const g = ev.resources.count ? generalise('uri', ev.resources) : null;
  const topIntent = [...ev.intents].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  const key = templateKey(agent.name);
  const template = {
    title: `${agent.name}: what it used ${iso(o.since).slice(0, 10)} to ${iso(o.until).slice(0, 10)}`.slice(0, 200),
    intent: (topIntent ?? `the work ${agent.name} did ${window}`).slice(0, 2000),
    tools: names,
    resources: g ? resourcePatterns(g) : [],
    ttl: 600,
  };
  return {
    policies: `${header}\n\n${blocks.join('\n\n')}\n`,
    templates: `# Suggested by \`mandate policy suggest\` for agent ${agent.name}: the tools it used ${window}.\n${stringify({ taskTemplates: { [key]: template } })}`,
    templateKey: key,
    template,
    tools,
    skipped,
  };
}

export async function suggestPolicies(m: Deps, agentIdOrName: string, o: SuggestOptions): Promise<Suggestion> {
  const agent = await m.agents.get(agentIdOrName);

  // 1. Learn: one pass over the agent's calls in the window.
  const ev = new Evidence((name) => m.tools.getTool(name));
  for await (const e of agentCalls(m, agent.id, o)) ev.add(e);
  const window = `between ${iso(o.since)} and ${iso(o.until)}`;
  if (ev.used === 0) {
    throw new MandateError(
      'not_found',
      ev.calls
        ? `agent ${q(agent.name)} made ${ev.calls} tool call${ev.calls > 1 ? 's' : ''} ${window} and none ran (all refused): no use to suggest a permit for`
        : `agent ${q(agent.name)} made no tool calls ${window}: there is no evidence to suggest policies from (widen \`since\`, or check \`mandate audit\`)`,
    );
  }

  // 2. Write: one permit per tool that ran, the startTask permit, the template.
  const r = renderSuggestion(agent, ev, m.policy.current.compiled.argTypes, o);
  const { policies, templates, template } = r;

  // 3. Check: the suggestion alone against the schema, the template against the config schema.
  const file = `suggested-${agent.name}.cedar`;
  const errors: string[] = [];
  const t = taskTemplateSchema.safeParse(template);
  if (!t.success) errors.push(...t.error.issues.map((i) => `taskTemplates.${r.templateKey}.${i.path.join('.')}: ${i.message}`));
  let set: SuggestedSet | null = null;
  try {
    set = await openSuggestedSet(m, policies, file);
  } catch (err) {
    if (!(err instanceof MandateError) || err.code !== 'policy_invalid') throw err;
    errors.push(...((err.details?.errors as string[] | undefined) ?? [err.message]));
  }

  // 4. Replay: every call of the window, decided by the suggested set alone.
  let replay: Suggestion['replay'] = null;
  if (set) {
    try {
      const p = { calls: 0, used: 0, usedAllowed: 0, allowed: 0, denied: 0, deniedCalls: [] as ReplayedCall[], deniedOmitted: 0, notes: [] as string[] };
      let httpSeen = false;
      for await (const e of agentCalls(m, agent.id, o)) {
        const name = toolOf(e) ?? '';
        const d = e.data as { args?: unknown; wouldDeny?: unknown; http?: unknown; resources?: unknown };
        p.calls++;
        if (m.tools.getTool(name)?.kind === 'http') httpSeen = true;
        const decision = set.decide(agent, name, d.args, d);
        const ran = ranAt(e);
        if (ran) p.used++;
        if (decision.decision === 'allow') {
          p.allowed++;
          if (ran) p.usedAllowed++;
          continue;
        }
        p.denied++;
        if (p.deniedCalls.length >= MAX_LISTED) {
          p.deniedOmitted++;
          continue;
        }
        const was: ReplayedCall['was'] = ran ? (d.wouldDeny ? 'would_deny' : 'allow') : e.decision === 'approval_required' ? 'approval_required' : 'deny';
        const why = [...decision.reasons, ...decision.errors.map((x) => `${x.policyId}: ${x.message}`)].join('; ') || 'no suggested policy permits it';
        p.deniedCalls.push({ seq: e.seq, ts: e.ts, tool: name, was, reason: decision.decision === 'approval_required' ? `approval required: ${why}` : why });
      }
      if (httpSeen) p.notes.push('HTTP API calls are replayed from their audit record: method, path, query and JSON body; no headers, content type or body size');
      if (p.usedAllowed < p.used) p.notes.push(`${p.used - p.usedAllowed} call(s) that ran are denied by the suggestion: see deniedCalls (was: allow or would_deny)`);
      replay = p;
    } finally {
      set.close();
    }
  }

  return {
    agent: { id: agent.id, name: agent.name },
    window: { since: o.since, until: o.until },
    evidence: { calls: ev.calls, used: ev.used, wouldDeny: ev.wouldDeny, denied: ev.calls - ev.used, tools: r.tools, skipped: r.skipped },
    files: { policies: file, templates: `suggested-${agent.name}.yaml` },
    policies,
    templates,
    validation: { valid: errors.length === 0, errors, warnings: set?.warnings ?? [] },
    replay,
  };
}
