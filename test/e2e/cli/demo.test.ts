// `npm run demo` (its script, on the built code): every step happens as narrated, offline.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PATIENCE, REPO } from '../../helpers/server.js';

const run = promisify(execFile);

describe('npm run demo', () => {
  it('walks an agent through allowed, denied and ended access', async () => {
    const { stdout } = await run(process.execPath, [join(REPO, 'demo/agent.mjs')], { cwd: REPO, timeout: PATIENCE });
    expect(stdout).toMatch(/fronting \d+ tools of 3 MCP servers \(fs, memory, web\)/);
    expect(stdout).toMatch(/3\. It connects[^\n]*\n\s+fs\.list_directory, fs\.read_text_file, web\.fetch/);
    expect(stdout).toMatch(/Revenue grew 12%/);
    expect(stdout).toMatch(/tool `fs\.write_file` is not in the task's scope/);
    expect(stdout).toMatch(/file reads are limited to the reports folder \(forbidden by `call\.fs-reports-only`/);
    expect(stdout).toMatch(/mandate approvals approve apr_\w+/);
    expect(stdout).toMatch(/progress: waiting for approval apr_\w+/);
    expect(stdout).toMatch(/→ fetched https:\/\/api\.partner\.example\/q3-figures/);
    expect(stdout).toMatch(/→ denied: user:alice@corp\.example refused approval apr_\w+ for this call \(already fetched once for this report\)/);
    expect(stdout).toMatch(/a DPoP credential for \d+s/);
    expect(stdout).toMatch(/child task task_\w+, held by spiffe:\/\/demo\.mandate\.local\/agent\/demo-extractor, acting for spiffe:\/\/demo\.mandate\.local\/agent\/demo-reporter/);
    expect(stdout).toMatch(/the executor sees: fs\.read_text_file\n/);
    expect(stdout).toMatch(/tool `fs\.list_directory` is not in the task's scope/);
    expect(stdout).toMatch(/executor refused: .*has ended/);
    expect(stdout).toMatch(/task\.delegate +success/);
    expect(stdout).toMatch(/rejected: .*has ended/);
    // A REST API and a database without a key of the agent's own (issue 14).
    expect(stdout).toMatch(/HTTP 200: \{"id":"q3"/);
    expect(stdout).toMatch(/the API saw: GET \/v1\/reports\/q3, Authorization: Bearer demo-api-token-/);
    expect(stdout).toMatch(/\/v1\/reports\/%2e%2e\/%2e%2e\/admin\/users → HTTP 403: denied by Mandate: outside the task's scope: GET `\/admin\/users`/);
    expect(stdout).toMatch(/requests that reached the API: 0/);
    expect(stdout).toMatch(/role mandate_t_[0-9a-f]+, valid until 20/);
    expect(stdout).toMatch(/SELECT 2\n\s+\[\{"id":1,"customer":"acme"/);
    expect(stdout).toMatch(/permission denied for table customers/);
    expect(stdout).toMatch(/the API call now: HTTP 401/);
    expect(stdout).toMatch(/the role is gone/);
    expect(stdout).toMatch(/db\.role\.drop +success/);
    expect(stdout).toMatch(/chain intact \(\d+ events\)/);
    expect(stdout).not.toMatch(/unexpected/);
  });
});
