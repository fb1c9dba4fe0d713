// A task's scope (`authorization_details` of type `mandate_task`, RFC 9396 style): what an agent
// declares before it reads anything untrusted. Parsed strictly, checked against the tool
// catalogue, and enforced on every call before and in addition to Cedar.

import { z } from 'zod';
import { MandateError, q } from '../core/errors.js';
import type { ResourceKind, ToolLookup, ToolSpec } from '../core/tool.js';
import type { ArgConstraint, TaskScope, ToolGrant } from '../storage/types.js';
import { canonicalResourceArg, globMatch, normaliseResource, ResourceError } from './resource-uri.js';
import { dbPrivilegesSchema } from '../config/schema.js';
import { canonicalHttpPath } from '../gateway/http-path.js';

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const constraintSchema = z
  .object({
    eq: scalar.optional(),
    in: z.array(scalar).min(1).max(1000).optional(),
    like: z.string().min(1).max(4096).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
    /** The argument must not be given at all (`{"absent": true}`). */
    absent: z.literal(true).optional(),
  })
  .strict()
  .refine((c) => Object.keys(c).length > 0, 'a constraint needs at least one of `eq`, `in`, `like`, `min`, `max`, `absent`')
  .refine((c) => !c.absent || Object.keys(c).length === 1, '`absent` cannot be combined with other operators (an absent argument has no value to compare)');

const toolGrantSchema = z.union([
  z.string().min(1).max(200),
  z
    .object({
      name: z.string().min(1).max(200),
      constraints: z.record(z.string().min(1).max(200), constraintSchema).optional(),
      max_calls: z.number().int().positive().max(1_000_000).optional(),
      /** A database tool: what the task's own role is granted (`{ "public.orders": ["SELECT"] }`). */
      privileges: dbPrivilegesSchema.optional(),
    })
    .strict(),
]);

export const mandateTaskDetailSchema = z
  .object({
    type: z.literal('mandate_task'),
    intent: z.string().trim().min(1, '`intent` must say what the task is for').max(2000),
    tools: z.array(toolGrantSchema).min(1, 'a task needs at least one tool').max(256),
    resources: z.array(z.string().min(1).max(4096)).max(256).default([]),
    ttl: z.number().int().positive().max(86_400 * 30).optional(),
  })
  .strict();

export type MandateTaskDetail = z.infer<typeof mandateTaskDetailSchema>;

export interface TaskRequest {
  intent: string;
  scope: TaskScope;
  ttl: number | undefined;
}

function fail(message: string): never {
  throw new MandateError('invalid_authorization_details', message);
}

/** Parses the `authorization_details` parameter: a JSON array with exactly one `mandate_task`. */
export function parseAuthorizationDetails(raw: unknown): MandateTaskDetail {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      fail('`authorization_details` is not valid JSON: expected an array like [{"type":"mandate_task",…}]');
    }
  }
  if (value === undefined || value === null) fail('`authorization_details` is required: declare the task (type `mandate_task` with intent, tools, resources, ttl)');
  if (!Array.isArray(value)) fail('`authorization_details` must be a JSON array');
  if (value.length !== 1) fail(`\`authorization_details\` must hold exactly one \`mandate_task\` (got ${value.length} entries)`);
  const entry = value[0] as { type?: unknown };
  if (entry?.type !== 'mandate_task') fail(`\`authorization_details[0].type\` ${q(entry?.type)} is not supported: use \`mandate_task\``);
  const parsed = mandateTaskDetailSchema.safeParse(entry);
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((i) => {
      const path = i.path.length ? `\`authorization_details[0].${i.path.join('.')}\`` : '`authorization_details[0]`';
      const msg = i.code === 'unrecognized_keys' ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `\`${k}\``).join(', ')}` : i.message;
      return `${path}: ${msg}`;
    });
    fail(msgs.join('; '));
  }
  return parsed.data;
}

function argNames(tool: ToolSpec): Set<string> | null {
  const props = (tool.inputSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return props && typeof props === 'object' ? new Set(Object.keys(props)) : null;
}

/** `; did you mean …?` for a mistyped or unprefixed tool name, or ''. */
export function suggestTool(name: string, tools: ToolLookup): string {
  const all = tools.listTools().map((t) => t.name);
  const lower = name.toLowerCase();
  // The upstream prefix left out (`read_text_file` for `fs.read_text_file`), or the wrong one.
  const bare = lower.includes('.') ? lower.slice(lower.indexOf('.') + 1) : lower;
  let hits = all.filter((n) => n.toLowerCase().endsWith(`.${bare}`));
  if (!hits.length) hits = all.filter((n) => editDistance(n.toLowerCase(), lower) <= Math.max(2, Math.floor(lower.length / 5)));
  return hits.length ? `; did you mean ${hits.slice(0, 3).map((h) => q(h)).join(' or ')}?` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The tool a grant names: a tool (`fs.read_text_file`), or a method of an HTTP API with a path
 * pattern (`crm.GET /v1/reports/*`), which grants that method on the matching paths only.
 */
export function toolOfGrant(name: string, tools: ToolLookup): ToolSpec | undefined {
  const direct = tools.getTool(name);
  if (direct) return direct;
  const sp = name.indexOf(' ');
  if (sp < 0) return undefined;
  const tool = tools.getTool(name.slice(0, sp));
  return tool?.kind === 'http' ? tool : undefined;
}

/** The path pattern of an HTTP grant (`crm.GET /v1/*` → `/v1/*`), or null for a grant of the whole method. */
export function grantPathPattern(name: string): string | null {
  const sp = name.indexOf(' ');
  return sp < 0 ? null : name.slice(sp + 1);
}

/** What a constraint on an HTTP API call may name: `path`, `query.<name>`, `body`, `body.<field>`. */
const HTTP_ARG = /^(path|body|query\.[^\s]+|body\.[^\s.]+)$/;

/** Checks a requested scope against the catalogue and normalises it into the stored form. */
export function normaliseScope(detail: MandateTaskDetail, tools: ToolLookup): TaskRequest {
  const grants: ToolGrant[] = [];
  const seen = new Set<string>();
  for (const [i, g] of detail.tools.entries()) {
    const grant: ToolGrant =
      typeof g === 'string' ? { name: g } : { name: g.name, ...(g.constraints ? { constraints: g.constraints } : {}), ...(g.max_calls ? { max_calls: g.max_calls } : {}), ...(g.privileges ? { privileges: g.privileges } : {}) };
    const where = `\`authorization_details[0].tools[${i}]\``;
    const tool = toolOfGrant(grant.name, tools);
    if (!tool) fail(`${where}: unknown tool ${q(grant.name)}: no upstream offers it${suggestTool(grant.name.split(' ')[0]!, tools)} (names are \`<upstream>.<tool>\`, or \`<api>.<METHOD> /path/*\` for an HTTP API; \`mandate tools list\` or GET /api/v1/tools shows the catalogue)`);
    if (tool.kind === 'http') {
      const pattern = grantPathPattern(grant.name);
      if (pattern !== null) {
        try {
          grant.name = `${tool.name} ${canonicalHttpPath(pattern.trim())}`;
        } catch (err) {
          fail(`${where}: path pattern of ${q(grant.name)}: ${(err as Error).message}`);
        }
      }
      for (const [arg, c] of Object.entries(grant.constraints ?? {})) {
        if (!HTTP_ARG.test(arg)) fail(`${where}: constraint on ${q(arg)}: a call of an HTTP API is constrained by \`path\`, \`query.<name>\`, \`body\` or \`body.<field>\``);
        if (arg === 'path' && c.like !== undefined) {
          try {
            c.like = canonicalHttpPath(c.like);
          } catch (err) {
            fail(`${where}: constraint on \`path\`: ${(err as Error).message}`);
          }
        }
      }
    }
    if (grant.privileges && tool.kind !== 'postgres') fail(`${where}: \`privileges\` are for database tools (\`<upstream>.query\`, \`<upstream>.connect\`); ${q(tool.name)} is not one`);
    if (tool.kind === 'postgres' && !grant.privileges) fail(`${where}: ${q(tool.name)} runs as the task's own database role: declare what it may do, e.g. \`"privileges": { "public.orders": ["SELECT"] }\``);
    if (seen.has(grant.name)) fail(`${where}: tool ${q(grant.name)} is listed twice`);
    seen.add(grant.name);
    if (tool.kind === 'http') {
      grants.push(grant);
      continue;
    }
    const names = argNames(tool);
    for (const [arg, c] of Object.entries(grant.constraints ?? {})) {
      if (names && !names.has(arg)) fail(`${where}: constraint on unknown argument ${q(arg)} of ${q(tool.name)} (arguments: ${[...names].join(', ') || 'none'})`);
      if (c.min !== undefined && c.max !== undefined && c.min > c.max) fail(`${where}: constraint on ${q(arg)} has \`min\` > \`max\``);
      // A resource argument is compared in its canonical form, so the constraint is written in it too.
      const kind = tool.resources[arg];
      if (kind) {
        try {
          if (c.like !== undefined) c.like = canonicalPattern(kind, c.like);
          if (typeof c.eq === 'string') c.eq = canonicalResourceArg(kind, c.eq).value;
          if (c.in) c.in = c.in.map((v) => (typeof v === 'string' ? canonicalResourceArg(kind, v).value : v));
        } catch (err) {
          fail(`${where}: constraint on ${q(arg)}: ${(err as Error).message}`);
        }
      }
    }
    grants.push(grant);
  }
  const resources: string[] = [];
  for (const [i, r] of detail.resources.entries()) {
    try {
      resources.push(normaliseResource(r, true));
    } catch (err) {
      fail(`\`authorization_details[0].resources[${i}]\`: ${(err as Error).message}`);
    }
  }
  return { intent: detail.intent, scope: { tools: grants, resources: [...new Set(resources)] }, ttl: detail.ttl };
}

/** A `like` pattern on a resource argument, in the argument's canonical form (`*` kept). */
function canonicalPattern(kind: ResourceKind, pattern: string): string {
  const star = 'mandateglobstar';
  const v = canonicalResourceArg(kind, pattern.replaceAll('*', star)).value;
  return v.replaceAll(star, '*');
}

/**
 * What a declared scope holds less firmly than it reads: a `like` on an argument that is not a
 * declared resource is a raw glob (`*` crosses `/`, `..` is not resolved). Said in the token
 * response and in audit.
 */
export function scopeWarnings(scope: TaskScope, tools: ToolLookup): string[] {
  const out: string[] = [];
  for (const g of scope.tools) {
    const tool = toolOfGrant(g.name, tools);
    for (const [arg, c] of Object.entries(g.constraints ?? {})) {
      if (c.like !== undefined && !tool?.resources[arg] && !(tool?.kind === 'http' && arg === 'path')) {
        out.push(`tool ${q(g.name)}: \`like\` on ${q(arg)} is a raw glob (it is not a declared path or URL resource): \`*\` also matches \`/\` and \`..\` is not resolved; declare ${q(arg)} under the tool's \`resources\` in mandate.yaml to match it as a path or URL`);
      }
    }
  }
  return out;
}

/** The scope as it travels in credentials and responses (RFC 9396 `authorization_details`). */
export function scopeToDetails(intent: string, scope: TaskScope, ttl: number): Record<string, unknown> {
  return { type: 'mandate_task', intent, tools: scope.tools.map((t) => (t.constraints || t.max_calls || t.privileges ? t : t.name)), resources: scope.resources, ttl };
}

export interface ScopeViolation {
  reason: string;
}

/** Why `value` does not satisfy `c`, or null. A resource argument arrives in canonical form. */
function checkConstraint(arg: string, c: ArgConstraint, value: unknown): string | null {
  if (c.absent) return value === undefined ? null : `argument ${q(arg)} must not be given in this task`;
  if (value === undefined) return `argument ${q(arg)} is constrained by the task but missing`;
  const values = Array.isArray(value) ? value : [value];
  for (const v of values) {
    if (c.like !== undefined) {
      if (typeof v !== 'string') return `argument ${q(arg)} must be a string to match ${q(c.like)}`;
      if (!globMatch(c.like, v)) return `argument ${q(arg)} = ${q(v)} does not match the task's constraint ${q(c.like)}`;
    }
    if (c.eq !== undefined && v !== c.eq) return `argument ${q(arg)} = ${q(v)} is not the task's allowed value ${q(c.eq)}`;
    if (c.in !== undefined && !c.in.includes(v as string | number | boolean)) return `argument ${q(arg)} = ${q(v)} is not in the task's allowed set`;
    if (c.min !== undefined || c.max !== undefined) {
      if (typeof v !== 'number') return `argument ${q(arg)} must be a number`;
      if (c.min !== undefined && v < c.min) return `argument ${q(arg)} = ${v} is below the task's minimum ${c.min}`;
      if (c.max !== undefined && v > c.max) return `argument ${q(arg)} = ${v} is above the task's maximum ${c.max}`;
    }
  }
  return null;
}

export interface ScopeCheck {
  ok: boolean;
  reasons: string[];
  /** Normalised resource URIs the call names. */
  resources: string[];
  /**
   * The arguments as checked: every resource argument in its canonical form. This, and nothing
   * else, is what may be forwarded.
   */
  args: Record<string, unknown>;
}

/**
 * Is this call inside the task's declared scope? The tool must be granted, every resource
 * argument must have one unambiguous canonical form (which replaces it), every constrained
 * argument must satisfy its constraint, and every resource the arguments name must lie inside
 * one of the task's resource patterns.
 */
export function checkCallScope(scope: TaskScope, tool: ToolSpec, rawArgs: Record<string, unknown>, callsSoFar: number): ScopeCheck {
  const reasons: string[] = [];
  const resources: string[] = [];
  const args: Record<string, unknown> = { ...rawArgs };
  const grant = scope.tools.find((t) => t.name === tool.name);
  if (!grant) return { ok: false, reasons: [`tool ${q(tool.name)} is not in the task's scope`], resources, args };
  if (grant.max_calls !== undefined && callsSoFar >= grant.max_calls) {
    reasons.push(`tool ${q(tool.name)} reached the task's limit of ${grant.max_calls} call${grant.max_calls > 1 ? 's' : ''}`);
  }
  for (const [arg, kind] of Object.entries(tool.resources)) {
    const v = args[arg];
    if (v === undefined || v === null) continue;
    const list = Array.isArray(v) ? v : [v];
    const canonical: unknown[] = [];
    for (const item of list) {
      let c;
      try {
        c = canonicalResourceArg(kind, item);
      } catch (err) {
        reasons.push(`argument ${q(arg)}: ${err instanceof ResourceError ? err.message : 'not a resource'}`);
        continue;
      }
      canonical.push(c.value);
      resources.push(c.uri);
      if (!scope.resources.some((p) => globMatch(p, c.uri))) {
        reasons.push(`resource ${q(c.uri)} is outside the task's declared resources`);
      }
    }
    args[arg] = Array.isArray(v) ? canonical : canonical[0];
  }
  for (const [arg, c] of Object.entries(grant.constraints ?? {})) {
    const r = checkConstraint(arg, c, Object.hasOwn(args, arg) ? args[arg] : undefined);
    if (r) reasons.push(r);
  }
  return { ok: reasons.length === 0, reasons, resources, args };
}

/** One request to an HTTP API as policy and the task's constraints see it (and as it is forwarded). */
export interface HttpCallArgs {
  /** Canonical path below the API's base URL. */
  path: string;
  /** Query parameters (a repeated one as an array). */
  query: Record<string, string | string[]>;
  /** The JSON body, when there is one and it is small enough to check. */
  body?: unknown;
}

function httpValue(args: HttpCallArgs, key: string): unknown {
  if (key === 'path') return args.path;
  if (key === 'body') return args.body;
  if (key.startsWith('query.')) {
    const k = key.slice(6);
    return Object.hasOwn(args.query, k) ? args.query[k] : undefined;
  }
  const b = args.body as Record<string, unknown> | undefined;
  const k = key.slice(5);
  return b && typeof b === 'object' && !Array.isArray(b) && Object.hasOwn(b, k) ? b[k] : undefined;
}

/**
 * Is this request to an HTTP API inside the task's scope? A grant of the method applies when it
 * names no path, or its path pattern matches the canonical path; its constraints and call limit
 * must hold. The first grant that allows the call is the one it is counted against (`grant`).
 */
export function checkHttpScope(scope: TaskScope, tool: ToolSpec, args: HttpCallArgs, callsOf: (grant: string) => number): { ok: boolean; reasons: string[]; grant: string | null } {
  const candidates = scope.tools.filter((g) => {
    if (g.name === tool.name) return true;
    if (!g.name.startsWith(`${tool.name} `)) return false;
    return globMatch(grantPathPattern(g.name)!, args.path);
  });
  if (!candidates.length) {
    const granted = scope.tools.filter((g) => g.name === tool.name || g.name.startsWith(`${tool.name} `)).map((g) => q(g.name));
    return { ok: false, grant: null, reasons: [`${tool.method ?? tool.name} ${q(args.path)} is not in the task's scope${granted.length ? ` (granted: ${granted.join(', ')})` : ''}`] };
  }
  let first: string[] | null = null;
  for (const g of candidates) {
    const reasons: string[] = [];
    if (g.max_calls !== undefined && callsOf(g.name) >= g.max_calls) reasons.push(`${q(g.name)} reached the task's limit of ${g.max_calls} call${g.max_calls > 1 ? 's' : ''}`);
    for (const [arg, c] of Object.entries(g.constraints ?? {})) {
      const r = checkConstraint(arg, c, httpValue(args, arg));
      if (r) reasons.push(r);
    }
    if (!reasons.length) return { ok: true, reasons: [], grant: g.name };
    first ??= reasons;
  }
  return { ok: false, grant: null, reasons: first ?? [] };
}
