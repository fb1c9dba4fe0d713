// The OpenID AuthZEN interop vectors (../shared/conformance/authzen, unchanged) against the real
// server over HTTP: 40 Todo evaluations, 3 Todo batches, 25 API-gateway evaluations.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, SHARED_VECTORS, VENDORED_VECTORS, startTestServer, vectorsDir, type TestServer } from '../../helpers/server.js';
import { existsSync, readdirSync } from 'node:fs';

const VECTORS = vectorsDir();
const load = (f: string) => JSON.parse(readFileSync(join(VECTORS, f), 'utf8'));
const todo = load('todo-decisions-1_0-02.json') as { evaluation: Array<{ request: unknown; expected: boolean }>; evaluations: Array<{ request: unknown; expected: Array<{ decision: boolean }> }> };
const gateway = load('gateway-decisions.json') as { evaluation: Array<{ request: unknown; expected: boolean }> };
const ajv = new Ajv.default({ strict: false });
const validateRequest = ajv.compile(load('evaluation-request.schema.json'));
const validateResponse = ajv.compile(load('evaluation-response.schema.json'));

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: join(REPO, 'test/fixtures/authzen/mandate.yaml') });
});
afterAll(async () => s?.close());

function label(r: unknown): string {
  const x = r as { subject: { id: string }; action: { name: string }; resource?: { type: string; id: string } };
  return `${x.subject.id.slice(6, 8)} ${x.action.name} ${x.resource ? `${x.resource.type}:${x.resource.id}` : '(batch)'}`;
}

describe('the vendored copy of the vectors', () => {
  it.skipIf(!existsSync(SHARED_VECTORS))('is identical to ../shared/conformance/authzen (skipped only where that folder is absent)', () => {
    for (const f of readdirSync(SHARED_VECTORS)) {
      expect(readFileSync(join(VENDORED_VECTORS, f), 'utf8'), f).toBe(readFileSync(join(SHARED_VECTORS, f), 'utf8'));
    }
  });
});

describe('AuthZEN interop: Todo, single evaluations', () => {
  it('has the 40 vectors', () => expect(todo.evaluation).toHaveLength(40));
  it.each(todo.evaluation.map((c) => [label(c.request), c] as const))('%s', async (_name, c) => {
    expect(validateRequest(c.request)).toBe(true);
    const r = await s.api<{ decision: unknown }>('POST', '/access/v1/evaluation', c.request);
    expect(r.status).toBe(200);
    // An empty or non-boolean answer must not pass as `false`.
    expect(typeof r.body.decision).toBe('boolean');
    expect(validateResponse(r.body)).toBe(true);
    expect(r.body.decision).toBe(c.expected);
  });
});

describe('AuthZEN interop: Todo, batch evaluations', () => {
  it('has the 3 vectors', () => expect(todo.evaluations).toHaveLength(3));
  it.each(todo.evaluations.map((c, i) => [`batch ${i}`, c] as const))('%s', async (_name, c) => {
    const r = await s.api<{ evaluations: Array<{ decision: unknown }> }>('POST', '/access/v1/evaluations', c.request);
    expect(r.status).toBe(200);
    expect(Array.isArray(r.body.evaluations)).toBe(true);
    for (const d of r.body.evaluations) expect(typeof d.decision).toBe('boolean');
    expect(r.body.evaluations.map((d) => ({ decision: d.decision }))).toEqual(c.expected);
  });
});

describe('AuthZEN interop: API gateway', () => {
  it('has the 25 vectors', () => expect(gateway.evaluation).toHaveLength(25));
  it.each(gateway.evaluation.map((c) => [label(c.request), c] as const))('%s', async (_name, c) => {
    const r = await s.api<{ decision: unknown }>('POST', '/access/v1/evaluation', c.request);
    expect(r.status).toBe(200);
    expect(typeof r.body.decision).toBe('boolean');
    expect(r.body.decision).toBe(c.expected);
  });
});
