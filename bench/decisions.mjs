// In-process decision latency as the policy set grows: 10, 1,000 and 10,000 policies, the same
// agent tool-call request mix, the decision cache off (this measures evaluation, not the cache).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compilePolicies } from '../dist/policy/compile.js';
import { PolicyEngine } from '../dist/policy/engine.js';
import { agentEntity, taskInfo, toolEntity } from '../dist/policy/mandate-entities.js';
import { timeContext } from '../dist/policy/policy-service.js';
import { percentile } from './lib/proc.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const AGENTS = 200;

const tools = ['read_text_file', 'list_directory', 'write_file', 'search_files'].map((t, i) => ({
  name: `fs.${t}`,
  upstream: 'fs',
  description: '',
  risk: i === 2 ? 'write' : 'read',
  classification: 'internal',
  tags: [],
  inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  resources: { path: 'path' },
  remoteName: t,
  discovered: true,
  blocked: null,
}));

/** A realistic set: a few global rules, then per-agent rules (what large deployments accumulate). */
function policySet(n) {
  const out = [
    '@id("g.read") permit(principal is Agent, action in Action::"read", resource is Tool);',
    '@id("g.no-secrets") forbid(principal, action in Action::"read", resource) when { context.args.path like "*/secrets/*" };',
    '@id("g.no-egress-taint") forbid(principal, action in Action::"egress", resource) when { context.task.labels.contains("confidential") };',
    '@id("g.start") permit(principal is Agent, action == Action::"startTask", resource is Tool) when { resource.risk == "read" };',
  ];
  for (let i = out.length; i < n; i++) {
    const a = i % 3 === 0 ? 'Action::"fs.write_file"' : 'Action::"fs.search_files"';
    out.push(`@id("a${i}") permit(principal == Agent::"spiffe://bench.local/agent/a${i % 5000}", action == ${a}, resource) when { context.args.path like "/srv/team${i}/*" && principal.environment == "dev" };`);
  }
  return out.slice(0, n).join('\n');
}

function requests() {
  const reqs = [];
  for (let i = 0; i < AGENTS; i++) {
    const agent = { id: `spiffe://bench.local/agent/a${i * 7}`, name: `a${i * 7}`, owner: 'o@corp.example', purpose: 'bench', environment: 'dev', labels: [] };
    const tool = tools[i % tools.length];
    const task = { id: `task_${i}`, intent: 'bench', depth: 0, labels: i % 5 === 0 ? ['confidential'] : [], scope: { tools: [{ name: tool.name }], resources: ['file:///srv/*'] } };
    reqs.push({
      principal: { type: 'Agent', id: agent.id },
      action: tool.name,
      resource: { type: 'Tool', id: tool.name },
      context: { task: taskInfo(task), time: timeContext(Date.now()), resources: [`file:///srv/team${i}/a.txt`], calls: 0, args: { path: i % 9 === 0 ? '/srv/secrets/x' : `/srv/team${i * 7}/a.txt` } },
      entities: [agentEntity(agent), toolEntity(tool)],
    });
  }
  return reqs;
}

export async function decisions(log = console.log) {
  const tmp = mkdtempSync(join(tmpdir(), 'mandate-bench-dec-'));
  const results = {};
  try {
    for (const n of [10, 1000, 10000]) {
      const dir = join(tmp, String(n));
      mkdirSync(dir);
      writeFileSync(join(dir, 'p.cedar'), policySet(n));
      const t0 = performance.now();
      const compiled = compilePolicies({ policyDir: dir, schemaPath: join(ROOT, 'policies/mandate.cedarschema'), tools });
      const loadMs = performance.now() - t0;
      const engine = new PolicyEngine(compiled, { decisionCache: 0 });
      const reqs = requests();
      for (let w = 0; w < 5; w++) for (const r of reqs) engine.decide(r); // warm: every slice parsed, code optimised
      const lat = [];
      let evaluated = 0;
      for (let round = 0; round < 15; round++) {
        for (const r of reqs) {
          const t = process.hrtime.bigint();
          const d = engine.decide(r);
          lat.push(Number(process.hrtime.bigint() - t) / 1000);
          evaluated += d.evaluated;
        }
      }
      lat.sort((a, b) => a - b);
      results[n] = { p50: percentile(lat, 0.5), p99: percentile(lat, 0.99), loadMs, meanSlice: evaluated / lat.length };
      engine.dispose();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  log(`Decision latency in process (agent tool calls, ${AGENTS} agents, decision cache off, ${15 * AGENTS} decisions per size)`);
  for (const [n, r] of Object.entries(results)) {
    log(`  ${String(n).padStart(6)} policies: p50 ${r.p50.toFixed(1).padStart(6)} µs   p99 ${r.p99.toFixed(1).padStart(6)} µs   (mean slice ${r.meanSlice.toFixed(1)} policies; set loaded and validated in ${r.loadMs.toFixed(0)} ms)`);
  }
  log(`  ratio 10,000 / 10 policies: p50 ${(results[10000].p50 / results[10].p50).toFixed(2)}x, p99 ${(results[10000].p99 / results[10].p99).toFixed(2)}x  (target: p99 within 2x)`);
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await decisions();
