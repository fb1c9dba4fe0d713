// Builds the sinks and their runner from `audit.sinks` and `audit.checkpoint` in mandate.yaml.

import { isAbsolute, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { MandateConfig } from '../../config/load.js';
import type { Clock } from '../../core/clock.js';
import { MandateError } from '../../core/errors.js';
import type { BackgroundFaults } from '../../core/faults.js';
import { MANDATE_VERSION } from '../../core/version.js';
import { expandValue, secretRefsOf } from '../../gateway/upstream-client.js';
import type { SigningKey } from '../../identity/signing-keys.js';
import type { AuditSinkStore, AuditStore } from '../../storage/types.js';
import type { AuditLog } from '../audit-log.js';
import { registerSecretValues } from '../redact.js';
import { FileSink } from './file-sink.js';
import { HttpSink } from './http-sink.js';
import { SinkRunner } from './runner.js';
import type { AuditSink } from './sink.js';

export interface SinkDeps {
  config: MandateConfig;
  store: AuditStore & AuditSinkStore;
  audit: AuditLog;
  keys: { readonly current: SigningKey };
  clock: Clock;
  /** The named secrets (`${secret:<name>}` in headers). */
  secrets: { has(name: string): boolean; get(name: string): Promise<string> };
  logger?: Logger | undefined;
  faults?: BackgroundFaults | undefined;
  env?: NodeJS.ProcessEnv;
}

/**
 * The configured sinks. A header naming an undeclared secret stops start-up (config_invalid), as
 * it does for upstreams; header values are read per request (a rotated secret is used next).
 */
export function sinksFromConfig(d: SinkDeps): AuditSink[] {
  const env = d.env ?? process.env;
  const out: AuditSink[] = [];
  for (const [name, c] of Object.entries(d.config.audit.sinks)) {
    if (c.type === 'file') {
      out.push(new FileSink(name, { path: isAbsolute(c.path) ? c.path : resolve(d.config.baseDir, c.path), maxBytes: c.maxBytes, keep: c.keep }));
      continue;
    }
    for (const [h, v] of Object.entries(c.headers)) {
      const where = `audit.sinks.${name}.headers.${h}`;
      for (const ref of secretRefsOf(v)) {
        if (!d.secrets.has(ref)) throw new MandateError('config_invalid', `${where} uses \`\${secret:${ref}}\`, which is not declared under \`secrets\` in mandate.yaml`);
      }
      // What comes from the environment is a secret too, redacted wherever it shows up (an unset
      // variable fails each delivery, shown in the status, as it does for upstream headers).
      registerSecretValues([...v.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)].map((m) => env[m[1]!] ?? ''));
    }
    const headers = async () => {
      const outHeaders: Record<string, string> = {};
      for (const [h, v] of Object.entries(c.headers)) outHeaders[h] = await expandValue(v, env, `audit.sinks.${name}.headers.${h}`, (n) => d.secrets.get(n));
      return outHeaders;
    };
    out.push(new HttpSink(name, { url: c.url, format: c.format, batch: c.batch, timeoutMs: c.timeout * 1000, headers, resource: { serviceName: d.config.tracing.serviceName, version: MANDATE_VERSION } }));
  }
  return out;
}

/** The runner over the configured sinks (started by `listen`; with none configured it does nothing). */
export function createSinkRunner(d: SinkDeps): SinkRunner {
  const sinks = sinksFromConfig(d);
  const longest = Math.max(0, ...Object.values(d.config.audit.sinks).map((c) => (c.type === 'http' ? c.timeout * 1000 : 0)));
  if (sinks.length) d.logger?.info({ sinks: sinks.map((s) => `${s.name} (${s.type} ${s.target})`) }, 'audit streaming configured');
  return new SinkRunner({
    store: d.store,
    audit: d.audit,
    keys: d.keys,
    clock: d.clock,
    sinks,
    checkpoint: d.config.audit.checkpoint,
    logger: d.logger,
    faults: d.faults,
    // A lease outlasts the longest delivery several times over, so it is never lost mid-batch in normal operation.
    leaseMs: Math.max(30_000, 3 * longest),
  });
}
