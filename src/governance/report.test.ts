// The report's pure parts: the catalogue is consistent (every item names controls that exist,
// every control is used, reasons given where Mandate's reach is partial or none), denial reasons
// fold specifics together, and the timeline's buckets follow the window.

import { describe, expect, it } from 'vitest';
import { CONTROLS, CONTROL_IDS, FRAMEWORKS } from './frameworks.js';
import { bucketOf, isProductionLike, reasonKey } from './report.js';

describe('the framework catalogue', () => {
  it('lists each framework\'s items once, each mapped to known controls, with a reason when out of full reach', () => {
    expect(FRAMEWORKS.map((f) => f.items.length)).toEqual([10, 10, 15, 7]);
    const used = new Set<string>();
    for (const f of FRAMEWORKS) {
      expect(new Set(f.items.map((i) => i.id)).size).toBe(f.items.length);
      for (const i of f.items) {
        for (const c of i.controls) {
          expect(CONTROL_IDS).toContain(c);
          used.add(c);
        }
        if (i.reach !== 'full') expect(i.why?.length ?? 0).toBeGreaterThan(20);
        if (i.reach === 'none') expect(i.controls).toEqual([]);
        else expect(i.controls.length).toBeGreaterThan(0);
      }
    }
    expect([...used].sort()).toEqual([...CONTROL_IDS].sort());
    expect(Object.keys(CONTROLS).sort()).toEqual([...CONTROL_IDS].sort());
  });
});

describe('reasonKey', () => {
  it.each([
    [[], ['no policy permits action `stdio.x` for Agent `spiffe://a/agent/b` on Tool `stdio.x` (deny by default)'], 'no policy permits it (deny by default)'],
    [['no-whoami'], ['whoami is not for agents (forbidden by `no-whoami` (p.cedar:3))'], 'no-whoami — whoami is not for agents'],
    [['no-whoami'], ['forbidden by `no-whoami` (p.cedar:3)'], 'no-whoami'],
    [['mandate:task-scope'], ["outside the task's scope: tool `stdio.secret_report` is not in the task's scope (decision dec_1)"], "mandate:task-scope — outside the task's scope: tool `…` is not in the task's scope"],
    [['mandate:task-scope'], ['max_calls of `fs.read` is 3: used 3'], 'mandate:task-scope — max_calls of `…` is N: used N'],
    [undefined, undefined, 'unspecified'],
  ])('%j %j → %s', (ids, reasons, key) => {
    expect(reasonKey(ids, reasons)).toBe(key);
  });
});

describe('bucketOf', () => {
  const DAY = 86_400_000;
  const t = Date.parse('2026-10-05T08:30:00Z');
  it('hours up to two days, days up to 120, then weeks, never more than ~400 buckets', () => {
    expect(bucketOf(t - DAY, t)).toMatchObject({ bucket: 'hour', bucketMs: 3_600_000, first: Date.parse('2026-10-04T08:00:00Z'), count: 25 });
    expect(bucketOf(t - 30 * DAY, t)).toMatchObject({ bucket: 'day', bucketMs: DAY, first: Date.parse('2026-09-05T00:00:00Z'), count: 31 });
    expect(bucketOf(t - 365 * DAY, t)).toMatchObject({ bucket: 'week', bucketMs: 7 * DAY, count: 53 });
    expect(bucketOf(t - 20 * 365 * DAY, t).count).toBeLessThanOrEqual(401);
  });
});

it('production-like environments', () => {
  expect(['prod', 'production', 'prod-eu', 'PROD', 'live'].filter(isProductionLike)).toHaveLength(5);
  expect(['dev', 'test', 'staging', 'preprod', 'lived'].filter(isProductionLike)).toEqual([]);
});
