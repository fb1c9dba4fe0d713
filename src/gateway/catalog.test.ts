// How tools are classified: config decides; annotations only fill what config leaves open (and
// only when the upstream is trusted to); an unclassified tool is `write`.

import { describe, expect, it } from 'vitest';
import { upstreamConfigSchema } from '../config/schema.js';
import { riskFromAnnotations, ToolCatalog } from './catalog.js';

const up = (o: Record<string, unknown>) => upstreamConfigSchema.parse({ command: 'x', ...o });

describe('ToolCatalog', () => {
  it('lets config win over annotations, in both directions', () => {
    const c = new ToolCatalog({ fs: up({ tools: { wipe: { risk: 'write' }, look: { risk: 'destructive' } } }) });
    c.setDiscovered('fs', [
      { name: 'wipe', annotations: { readOnlyHint: false, destructiveHint: true } },
      // An upstream claiming "read-only" cannot loosen what config says.
      { name: 'look', annotations: { readOnlyHint: true } },
    ]);
    expect(c.getTool('fs.wipe')!.risk).toBe('write');
    expect(c.getTool('fs.look')!.risk).toBe('destructive');
  });

  it('fills gaps from annotations, and treats unannotated tools as write', () => {
    const c = new ToolCatalog({ fs: up({}) });
    c.setDiscovered('fs', [{ name: 'read', annotations: { readOnlyHint: true, openWorldHint: false } }, { name: 'mystery' }]);
    expect(c.getTool('fs.read')!.risk).toBe('read');
    expect(c.getTool('fs.mystery')!.risk).toBe('write');
  });

  it('ignores annotations of an untrusted upstream', () => {
    const c = new ToolCatalog({ fs: up({ trustAnnotations: false }) });
    c.setDiscovered('fs', [{ name: 'read', annotations: { readOnlyHint: true, openWorldHint: false } }]);
    expect(c.getTool('fs.read')!.risk).toBe('write');
  });

  it('applies upstream-wide resource arguments to the tools that have them', () => {
    const c = new ToolCatalog({ fs: up({ resources: { path: 'path', url: 'url' } }) });
    c.setDiscovered('fs', [{ name: 'read', inputSchema: { type: 'object', properties: { path: { type: 'string' } } } }]);
    expect(c.getTool('fs.read')!.resources).toEqual({ path: 'path' });
  });

  it('keeps a blocked tool visible to the catalogue with its reason', () => {
    const c = new ToolCatalog({ fs: up({}) });
    c.setDiscovered('fs', [], new Map([['read', 'changed upstream']]));
    expect(c.getTool('fs.read')!.blocked).toBe('changed upstream');
  });
});

describe('riskFromAnnotations', () => {
  it.each([
    [{ readOnlyHint: true, openWorldHint: false }, 'read'],
    [{ readOnlyHint: true, openWorldHint: true }, 'egress'],
    [{ readOnlyHint: false, destructiveHint: false, openWorldHint: false }, 'write'],
    [{ readOnlyHint: false, destructiveHint: false }, 'egress'],
    [{ readOnlyHint: false }, 'destructive'],
  ])('%j → %s', (a, risk) => expect(riskFromAnnotations(a)).toBe(risk));

  it('names tools with each upstream\'s prefix: `<name>.` by default, `<name>_` or none when configured', () => {
    const c = new ToolCatalog({ fs: up({}), ev: up({ prefix: '' }), mem: up({ prefix: 'mem_' }) });
    c.setDiscovered('fs', [{ name: 'read' }]);
    c.setDiscovered('ev', [{ name: 'get-sum' }]);
    c.setDiscovered('mem', [{ name: 'read_graph' }]);
    expect(c.listTools().map((t) => [t.name, t.upstream, t.remoteName])).toEqual([
      ['fs.read', 'fs', 'read'],
      ['get-sum', 'ev', 'get-sum'],
      ['mem_read_graph', 'mem', 'read_graph'],
    ]);
  });

  it('refuses a tool whose name as agents see it clashes with another upstream\'s, and says which', () => {
    // `a` has no prefix and offers `b.x`; upstream `b` (prefix `b.`) offers `x`: one name, two tools.
    const c = new ToolCatalog({ a: up({ prefix: '' }), b: up({}) });
    c.setDiscovered('a', [{ name: 'b.x' }]);
    c.setDiscovered('b', [{ name: 'x' }, { name: 'y' }]);
    expect(c.getTool('b.x')!.upstream).toBe('a');
    expect(c.getTool('b.y')!.upstream).toBe('b');
    expect([...c.clashes.values()]).toEqual([expect.stringMatching(/"b\.x" of upstream `b` has the same name as a tool of `a`: it is not offered/)]);
  });
});
