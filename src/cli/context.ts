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
  const url = g.url ?? process.env.MANDATE_URL ?? publicUrlOf(config);
  return new MandateClient({ url, token: g.token ?? process.env.MANDATE_TOKEN, config });
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

export function fail(err: unknown): never {
  if (err instanceof CliError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  if (err instanceof MandateError) {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${(err as Error)?.stack ?? String(err)}\n`);
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
