// Reads `mandate.yaml`, applies defaults and the environment, resolves paths against the
// config file's directory, and reports problems as `file: key: expectation`.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { MandateError, q } from '../core/errors.js';
import { configSchema, type MandateConfigFile } from './schema.js';

export interface MandateConfig extends MandateConfigFile {
  /** Absolute path of the config file, or null when running on defaults. */
  configPath: string | null;
  /** Directory relative paths resolve against. */
  baseDir: string;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Resolved absolute paths. */
  policyDir: string;
  schemaPath: string;
  entityFiles: string[];
}

export interface LoadConfigOptions {
  configPath?: string | undefined;
  port?: number | undefined;
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function formatZodIssues(file: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const key = i.path.length ? i.path.join('.') : '(top level)';
      return `${file}: \`${key}\`: ${i.message}`;
    })
    .join('\n');
}

export function loadConfig(opts: LoadConfigOptions = {}): MandateConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.configPath ?? env.MANDATE_CONFIG;
  let configPath: string | null = null;
  if (explicit) {
    configPath = resolve(cwd, explicit);
    if (!existsSync(configPath)) {
      throw new MandateError('config_invalid', `config file ${q(configPath)} not found: pass --config <file> or set MANDATE_CONFIG`);
    }
  } else if (existsSync(resolve(cwd, 'mandate.yaml'))) {
    configPath = resolve(cwd, 'mandate.yaml');
  }

  let raw: unknown = {};
  if (configPath) {
    const text = readFileSync(configPath, 'utf8');
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      const where = err instanceof YAMLParseError && err.linePos ? `:${err.linePos[0].line}:${err.linePos[0].col}` : '';
      throw new MandateError('config_invalid', `${configPath}${where}: invalid YAML: ${(err as Error).message.split('\n')[0]}`, { cause: err });
    }
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new MandateError('config_invalid', `invalid configuration:\n${formatZodIssues(configPath ?? '(defaults)', parsed.error)}`);
  }
  const cfg = parsed.data;
  const baseDir = configPath ? dirname(configPath) : cwd;
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));

  const envPort = env.MANDATE_PORT;
  let port = cfg.server.port;
  if (opts.port !== undefined) port = opts.port;
  else if (envPort) {
    const n = Number(envPort);
    if (!Number.isInteger(n) || n < 0 || n > 65535) {
      throw new MandateError('config_invalid', `MANDATE_PORT ${q(envPort)}: expected a port number 0-65535`);
    }
    port = n;
  }
  if (cfg.tasks.defaultTtl > cfg.tasks.maxTtl) {
    throw new MandateError('config_invalid', `${configPath ?? '(defaults)'}: \`tasks.defaultTtl\` (${cfg.tasks.defaultTtl}) must not exceed \`tasks.maxTtl\` (${cfg.tasks.maxTtl})`);
  }
  const dataDir = resolve(cwd, opts.dataDir ?? env.MANDATE_DATA_DIR ?? '.mandate');
  return {
    ...cfg,
    server: { ...cfg.server, port },
    configPath,
    baseDir,
    dataDir,
    databaseUrl: opts.databaseUrl ?? (env.MANDATE_DATABASE_URL || undefined) ?? expandEnv(cfg.store.url, 'store.url', configPath, env),
    store: { ...cfg.store, ...(cfg.store.sslCa ? { sslCa: abs(cfg.store.sslCa) } : {}) },
    secrets: Object.fromEntries(Object.entries(cfg.secrets).map(([k, v]) => [k, v.file ? { ...v, file: abs(v.file) } : v])),
    ...(cfg.vault
      ? {
          vault: {
            ...cfg.vault,
            ...(cfg.vault.tokenFile ? { tokenFile: abs(cfg.vault.tokenFile) } : {}),
            ...(cfg.vault.appRole ? { appRole: { ...cfg.vault.appRole, secretIdFile: abs(cfg.vault.appRole.secretIdFile) } } : {}),
          },
        }
      : {}),
    policyDir: abs(cfg.policies.dir),
    schemaPath: abs(cfg.policies.schema),
    entityFiles: cfg.entities.map(abs),
  };
}

/** `${VAR}` in a config value, taken from the environment (a database password stays out of the file). */
function expandEnv(v: string | undefined, key: string, file: string | null, env: NodeJS.ProcessEnv): string | undefined {
  if (v === undefined) return undefined;
  return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const got = env[name];
    if (got === undefined) throw new MandateError('config_invalid', `${file ?? '(defaults)'}: \`${key}\` uses \${${name}}, which is not set in the environment: export it or write the value`);
    return got;
  });
}

/** The URL agents and enforcement points use; derived from the listening port when not configured. */
export function publicUrlOf(cfg: MandateConfig, listeningPort?: number): string {
  if (cfg.publicUrl) return cfg.publicUrl.replace(/\/+$/, '');
  const host = cfg.server.host === '0.0.0.0' || cfg.server.host === '::' ? '127.0.0.1' : cfg.server.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${listeningPort ?? cfg.server.port}`;
}
