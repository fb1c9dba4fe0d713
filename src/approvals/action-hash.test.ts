// What an approval covers and what approvers see: the hash separates every difference that
// matters; sensitive arguments are hidden from people but still bound by the hash.

import { describe, expect, it } from 'vitest';
import { upstreamConfigSchema } from '../config/schema.js';
import { ToolCatalog } from '../gateway/catalog.js';
import { actionHash, redactArgs } from './action-hash.js';

const base = { taskId: 'task_1', agentId: 'spiffe://t/agent/a', tool: 'pay.transfer', args: { iban: 'DE00', amount: 10 }, policyVersion: 'v1' };

describe('actionHash', () => {
  it('is the same for the same action whatever the key order, and differs for any other', () => {
    expect(actionHash(base)).toBe(actionHash({ ...base, args: { amount: 10, iban: 'DE00' } }));
    for (const other of [{ taskId: 'task_2' }, { agentId: 'spiffe://t/agent/b' }, { tool: 'pay.refund' }, { args: { iban: 'DE00', amount: 11 } }, { policyVersion: 'v2' }]) {
      expect(actionHash({ ...base, ...other })).not.toBe(actionHash(base));
    }
  });
});

describe('redactArgs', () => {
  it('hides fields a tool marks sensitive, at any depth, and leaves the rest', () => {
    expect(redactArgs({ user: 'bob', password: 'hunter2', nested: { Password: 'x', list: [{ password: 'y', ok: 1 }] } }, ['password'])).toEqual({
      user: 'bob',
      password: '[redacted]',
      nested: { Password: '[redacted]', list: [{ password: '[redacted]', ok: 1 }] },
    });
    expect(redactArgs({ a: 1 }, [])).toEqual({ a: 1 });
  });

  it('takes the sensitive fields from the tool configuration', () => {
    const c = new ToolCatalog({ pay: upstreamConfigSchema.parse({ command: 'x', tools: { transfer: { sensitive: ['iban'] } } }) });
    c.setDiscovered('pay', [{ name: 'transfer' }]);
    expect(c.getTool('pay.transfer')!.sensitive).toEqual(['iban']);
    expect(redactArgs(base.args, c.getTool('pay.transfer')!.sensitive!)).toEqual({ iban: '[redacted]', amount: 10 });
  });
});
