// How the CLI reaches Mandate: the running server's API over HTTP, or — when nothing listens —
// the same application built in-process over the same store (requests are injected, so every
// check the server makes is made; nothing goes around them).

import { readFileSync } from 'node:fs';
import type { MandateConfig } from '../config/load.js';
import { adminTokenPath } from '../identity/admin-token.js';
import type { Mandate } from '../mandate.js';

export interface ClientOptions {
  url: string;
  token?: string | undefined;
  config: MandateConfig;
}

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
  text: string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export class MandateClient {
  private local: Mandate | null = null;
  mode: 'http' | 'local' = 'http';

  constructor(private readonly opts: ClientOptions) {}

  private adminToken(): string {
    if (this.opts.token) return this.opts.token;
    const path = adminTokenPath(this.opts.config.dataDir);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      throw new CliError(`no admin token: set MANDATE_TOKEN, pass --token, or run where ${path} exists (it is created on first \`mandate serve\`)`);
    }
  }

  get baseUrl(): string {
    return this.local ? this.local.endpoints.base : this.opts.url.replace(/\/+$/, '');
  }

  async request<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    init: { json?: unknown; form?: Record<string, string>; auth?: 'admin' | 'none' | { bearer: string }; headers?: Record<string, string> } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    const auth = init.auth ?? 'admin';
    if (auth === 'admin') headers.authorization = `Bearer ${this.adminToken()}`;
    else if (auth !== 'none') headers.authorization = `Bearer ${auth.bearer}`;
    let payload: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(init.json);
    } else if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      payload = new URLSearchParams(init.form).toString();
    }
    if (!this.local) {
      try {
        const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload });
        const text = await res.text();
        return { status: res.status, body: parse(text) as T, text };
      } catch (err) {
        if (!isConnectionRefused(err)) throw new CliError(`cannot reach Mandate at ${this.baseUrl}: ${(err as Error).message}`);
        await this.goLocal();
      }
    }
    const res = await this.local!.app.inject({ method, url: path, headers, payload });
    return { status: res.statusCode, body: parse(res.body) as T, text: res.body };
  }

  /** Like request, but a non-2xx answer becomes a CliError carrying the server's message. */
  async call<T = Record<string, unknown>>(method: 'GET' | 'POST' | 'DELETE', path: string, init: Parameters<MandateClient['request']>[2] = {}): Promise<T> {
    const r = await this.request<T>(method, path, init);
    if (r.status >= 400) {
      const b = r.body as { error?: string; error_description?: string };
      throw new CliError(b?.error_description ? `${b.error_description}${b.error ? ` (${b.error})` : ''}` : `HTTP ${r.status}: ${r.text.slice(0, 500)}`);
    }
    return r.body;
  }

  private async goLocal(): Promise<void> {
    const { createMandate } = await import('../mandate.js');
    process.stderr.write(`note: no server at ${this.opts.url}; working on the store in ${this.opts.config.dataDir} directly\n`);
    this.local = await createMandate({ config: this.opts.config, connectUpstreams: false });
    this.mode = 'local';
  }

  async close(): Promise<void> {
    if (this.local) await this.local.close();
  }
}

function parse(text: string): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isConnectionRefused(err: unknown): boolean {
  const cause = (err as { cause?: { code?: string } }).cause;
  return cause?.code === 'ECONNREFUSED' || (err as { code?: string }).code === 'ECONNREFUSED';
}
