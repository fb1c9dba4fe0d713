// Shared CLI plumbing: global options → config → client; one place that turns errors into
// a message and an exit code.

import type { Command } from 'commander';
import { loadConfig, publicUrlOf, type MandateConfig } from '../config/load.js';
import { MandateError } from '../core/errors.js';
import { CliError, MandateClient } from './client.js';

export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  url?: string;
  token?: string;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function configFrom(cmd: Command, extra: { port?: number } = {}): MandateConfig {
  const g = globals(cmd);
  return loadConfig({ configPath: g.config, dataDir: g.dataDir, port: extra.port });
}

export function clientFrom(cmd: Command): MandateClient {
  const g = globals(cmd);
  const config = configFrom(cmd);
  const given = g.url ?? (process.env.MANDATE_URL || undefined);
  const url = given ?? publicUrlOf(config);
  return new MandateClient({ url, explicitUrl: given !== undefined, token: g.token ?? process.env.MANDATE_TOKEN, config });
}

/** Runs a command body with a client, closing it and mapping errors to exit codes. */
export function action<A extends unknown[]>(fn: (client: MandateClient, cmd: Command, ...args: A) => Promise<void>) {
  return async (...all: unknown[]) => {
    const cmd = all[all.length - 1] as Command;
    const args = all.slice(0, -1) as A;
    let client: MandateClient | undefined;
    try {
      client = clientFrom(cmd);
      await fn(client, cmd, ...args);
    } catch (err) {
      fail(err);
    } finally {
      await client?.close().catch(() => undefined);
    }
  };
}

/** Stacks only when asked for (`--debug`, or MANDATE_DEBUG=1): a user gets what is wrong and what to do. */
export const debugging = (): boolean => process.argv.includes('--debug') || ['1', 'true', 'yes'].includes((process.env.MANDATE_DEBUG ?? '').toLowerCase());

/** One or two lines for an error that is not Mandate's own (a file, a port, the network). */
export function describeSystemError(err: unknown): string {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  switch (e?.code) {
    case 'EADDRINUSE':
      return `port ${e.port ?? ''} is already in use${e.address ? ` on ${e.address}` : ''}: stop what runs there, or pick another port with --port or MANDATE_PORT`;
    case 'EACCES':
    case 'EPERM':
      return `permission denied${e.path ? ` for ${e.path}` : ''}${e.port !== undefined ? ` (port ${e.port}: ports below 1024 need privileges)` : ''}`;
    case 'ENOENT':
      return `no such file or directory${e.path ? `: ${e.path}` : ''}`;
    case 'EISDIR':
      return `${e.path ?? 'the path'} is a directory, not a file`;
    default:
      return (err as Error)?.message ?? String(err);
  }
}

export function fail(err: unknown): never {
  const stack = debugging() && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}${stack}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof MandateError) {
    process.stderr.write(`error: ${err.message}${stack}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${describeSystemError(err)}${stack || (debugging() ? '' : '\n(run with --debug or MANDATE_DEBUG=1 for details)')}\n`);
  process.exit(2);
}

export function parseJsonOption(value: string | undefined, name: string): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  try {
    const v = JSON.parse(value);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch {
    throw new CliError(`--${name} must be a JSON object, e.g. '{"path":"/srv/reports/q3.txt"}'`);
  }
}

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
