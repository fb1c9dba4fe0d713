// `resources/*` and `prompts/*` go through the same authorization as tool calls: resources must
// lie inside the task's declared resources and be permitted by `readResource`; prompts by `getPrompt`.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAgent, useGateway } from '../../helpers/gateway.js';
import { startTask } from '../../helpers/server.js';

const g = useGateway();

describe('resources', () => {
  it('lists and reads only what the task declared', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo'], { resources: ['test://docs/*'] });
    const client = await connectAgent(g.env.s, t.token);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['test://docs/readme']);
    const r = await client.readResource({ uri: 'test://docs/readme' });
    expect((r.contents[0] as { text: string }).text).toBe('read me first');
    await expect(client.readResource({ uri: 'test://private/plans' })).rejects.toThrow(/outside the task's declared resources/);
    await g.env.s.m.audit.drain();
    const ev = await g.env.s.api<{ events: Array<{ decision: string; data: { target: string } }> }>('GET', `/api/v1/audit?task=${t.taskId}&type=resource.read`);
    expect(ev.body.events.map((e) => [e.data.target, e.decision])).toEqual([
      ['test://docs/readme', 'allow'],
      ['test://private/plans', 'deny'],
    ]);
    await client.close();
  });
});

describe('prompts', () => {
  it('lists namespaced prompts and gets only what policy permits', async () => {
    const t = await startTask(g.env.s, g.agent, ['stdio.echo']);
    const client = await connectAgent(g.env.s, t.token);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name).sort()).toEqual(['stdio.forbidden', 'stdio.greet']);
    const greet = await client.getPrompt({ name: 'stdio.greet' });
    expect((greet.messages[0]!.content as { text: string }).text).toBe('hello there');
    await expect(client.getPrompt({ name: 'stdio.forbidden' })).rejects.toThrow(/denied by Mandate: forbidden by `prompts.no-forbidden`/);
    await expect(client.getPrompt({ name: 'stdio.nope' })).rejects.toThrow(/unknown prompt/);
    await client.close();
  });
});
