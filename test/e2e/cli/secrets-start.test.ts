// `mandate serve` reads every named secret at start: a missing one stops it with the secret's
// name, its source and what to do; a secret that is there is never printed.

import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runServe, startServe, writeServeConfig } from '../../helpers/process.js';

describe('mandate serve with named secrets', () => {
  it('refuses to start without a secret it is configured to use, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-secrets-start-'));
    const config = writeServeConfig(dir);
    appendFileSync(config, 'secrets:\n  reports_api: { env: MANDATE_TEST_UNSET_SECRET }\n');
    const r = await runServe(config, join(dir, 'data'));
    expect(r.code).not.toBe(0);
    expect(r.output).toMatch(/secret `reports_api`: environment variable MANDATE_TEST_UNSET_SECRET is not set: export it before starting Mandate/);
  });

  it('starts when the secret is there, and never prints it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-secrets-start-'));
    const config = writeServeConfig(dir, 'debug');
    appendFileSync(config, 'secrets:\n  reports_api: { env: MANDATE_TEST_SET_SECRET }\n');
    process.env.MANDATE_TEST_SET_SECRET = 'sk_test_secret_value_never_printed_42';
    try {
      const srv = await startServe(config, join(dir, 'data'));
      const ready = await fetch(`${srv.url}/readyz`);
      expect(ready.status).toBe(200);
      await srv.stop();
      expect(srv.output()).not.toContain('sk_test_secret_value_never_printed_42');
    } finally {
      delete process.env.MANDATE_TEST_SET_SECRET;
    }
  });
});
