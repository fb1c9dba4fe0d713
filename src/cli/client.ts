// How the CLI reaches Mandate: the running server's API over HTTP, or — when nothing listens —
// the same application built in-process over the same store (requests are injected, so every
// check the server makes is made; nothing goes around them).

import { existsSync, readFileSync } from 'node:fs';
import type { MandateConfig } from '../config/load.js';
import { adminTokenPath } from '../identity/admin-token.js';
import type { Mandate } from '../mandate.js';

export interface ClientOptions {
  url: string;
  /** The URL was given (--url, MANDATE_URL): nothing answering there is an error, never a fallback. */
  explicitUrl?: boolean;
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
    // No admin token yet means no server has run on this data directory: work on the store
    // (opening it creates the token), unless a URL was given explicitly.
    if (auth === 'admin' && !this.local && !this.opts.token && !this.opts.explicitUrl && !existsSync(adminTokenPath(this.opts.config.dataDir))) await this.goLocal();
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
        if (!isConnectionRefused(err)) throw new CliError(`cannot reach Mandate at ${this.baseUrl}: ${(err as Error).message}; check the URL (--url, MANDATE_URL)`);
        if (this.opts.explicitUrl) throw new CliError(`nothing answers at ${this.baseUrl} (from --url or MANDATE_URL): start Mandate there, or leave the URL unset to work on the local store in ${this.opts.config.dataDir}`);
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
    this.local = await createMandate({ config: this.opts.config, connectUpstreams: false, tolerateInvalidPolicies: true });
    this.mode = 'local';
    if (this.local.policyProblem) process.stderr.write(`note: the policy files do not validate, so decisions here deny everything until they are fixed (mandate policy validate shows why)\n`);
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
