// OAuth client metadata for MCP clients: validates RFC 7591 registrations and fetches Client ID
// Metadata Documents (draft-ietf-oauth-client-id-metadata-document, MCP SEP-991), and matches
// redirect URIs. Routes call these; the rules live here once so both ways to register agree.

import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import { MandateError, q } from '../core/errors.js';

/** Largest metadata JSON accepted, registration body or fetched document (the caller checks the body). */
export const MAX_METADATA_BYTES = 16_384;

export const GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export interface ClientMetadata {
  /** client_name (default: the host of the first redirect URI, or its scheme for a native app). */
  clientName: string;
  redirectUris: string[];
  /** https only; shown on the consent page. */
  clientUri?: string;
  logoUri?: string;
  scope?: string;
  softwareId?: string;
  softwareVersion?: string;
  /** grant_types (default both): whether the client may use refresh tokens. */
  grantTypes: GrantType[];
  /** response_types: always `['code']`. */
  responseTypes: ['code'];
  /** The raw validated document, as stored (unknown fields kept, ignored). */
  raw: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// Redirect URIs

const LOOPBACK_HOSTS = ['127.0.0.1', '[::1]', 'localhost'];
/** `http://<loopback host>[:port]<rest>`, as written: the only http redirect URIs allowed. */
const LOOPBACK_HTTP = /^http:\/\/(127\.0\.0\.1|\[::1\]|localhost)(?::(\d{1,5}))?((?:[/?#].*)?)$/s;
/** The authority of `scheme://authority…`, as written (the WHATWG parser would hide `@` and case). */
const RAW_AUTHORITY = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/;
// Whitespace and controls are stripped or encoded by URL parsers (what is shown is not what is
// used); `\` is `/` to a browser for http(s) but not to every other parser.
const UNSAFE_CHARS = /[\u0000-\u0020\u007f-\u009f\\]/;

/** Why `uri` cannot be a registered redirect URI, or null (RFC 8252 §7.1, §7.3, §8.3; OAuth 2.1 §2.3). */
function redirectUriProblem(uri: string): string | null {
  if (UNSAFE_CHARS.test(uri)) return 'must not contain whitespace, control characters or `\\`';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  // Even an empty fragment (`…/cb#`): the authorization response would land in it.
  if (uri.includes('#')) return 'must not contain a fragment (`#`)';
  const authority = RAW_AUTHORITY.exec(uri)?.[1];
  if (authority?.includes('@') || url.username !== '' || url.password !== '') return 'must not contain userinfo (`user@`)';
  if (url.protocol === 'https:') {
    if (!authority) return 'must be an absolute URL with a host (`https://host/path`)';
    return null;
  }
  if (url.protocol === 'http:') {
    if (!LOOPBACK_HTTP.test(uri)) return `uses http: only loopback hosts (${LOOPBACK_HOSTS.map((h) => `\`${h}\``).join(', ')}) may use http, others must use https`;
    return null;
  }
  // A private-use scheme is a reverse domain name (`com.example.app:`); anything else
  // (`javascript:`, `data:`, `file:`, `myapp:`) is refused.
  if (!url.protocol.slice(0, -1).includes('.')) {
    return `scheme ${q(url.protocol)} is not allowed: use https, http on a loopback host, or a private-use scheme in reverse-domain form (\`com.example.app:/callback\`)`;
  }
  return null;
}

/**
 * Does `redirectUri` match one registered: exact string equality, except that a loopback http
 * redirect URI may use any port (RFC 8252 §7.3: native apps get an ephemeral port); scheme, host
 * as written, path and query still compare exactly.
 */
export function redirectUriAllowed(registered: string[], redirectUri: string): boolean {
  if (registered.includes(redirectUri)) return true;
  const asked = LOOPBACK_HTTP.exec(redirectUri);
  if (!asked || !URL.canParse(redirectUri)) return false; // URL.canParse refuses a port > 65535
  return registered.some((r) => {
    const reg = LOOPBACK_HTTP.exec(r);
    return reg !== null && reg[1] === asked[1] && reg[3] === asked[3];
  });
}

// ---------------------------------------------------------------------------------------------
// Registration (RFC 7591 §2)

// Controls (C0, DEL, C1) and bidi overrides/isolates: a name must read on the consent page the
// way it was written (U+202E can make `evil.com` render as `moc.live`).
const NAME_UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), space-delimited.
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/;

const optionalString = (max: number) =>
  z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .optional();

const displayUrl = z
  .string({ error: 'must be a string' })
  .max(2000, 'must be at most 2000 characters')
  .superRefine((s, ctx) => {
    const url = URL.canParse(s) ? new URL(s) : null;
    const authority = RAW_AUTHORITY.exec(s)?.[1];
    if (UNSAFE_CHARS.test(s)) ctx.addIssue({ code: 'custom', message: `${q(s)} must not contain whitespace, control characters or \`\\\`` });
    else if (!url || url.protocol !== 'https:' || !authority) ctx.addIssue({ code: 'custom', message: `${q(s)} must be an absolute https URL` });
    else if (authority.includes('@')) ctx.addIssue({ code: 'custom', message: `${q(s)} must not contain userinfo (\`user@\`)` });
  })
  .optional();

const registrationSchema = z.looseObject({
  redirect_uris: z
    .array(
      z.string({ error: 'must be a string' }).superRefine((uri, ctx) => {
        const problem = redirectUriProblem(uri);
        if (problem) ctx.addIssue({ code: 'custom', message: `${q(uri)} ${problem}` });
      }),
      { error: (iss) => (iss.input === undefined ? 'is required: register at least one redirect URI' : 'must be an array of URI strings') },
    )
    .min(1, 'must list at least one redirect URI')
    .max(10, 'must list at most 10 redirect URIs'),
  token_endpoint_auth_method: z
    .literal('none', {
      error: (iss) => `${q(iss.input)} is not supported: Mandate registers public clients that use PKCE; use \`none\` (or leave it out)`,
    })
    .optional(),
  grant_types: z
    .array(
      z.enum(GRANT_TYPES, { error: (iss) => `${q(iss.input)} is not supported: Mandate allows \`authorization_code\` and \`refresh_token\`` }),
      { error: 'must be an array of strings' },
    )
    .refine((g) => g.includes('authorization_code'), 'must include `authorization_code` (the only grant that issues tokens to a client here)')
    .optional(),
  response_types: z
    .array(z.literal('code', { error: (iss) => `${q(iss.input)} is not supported: Mandate allows only \`code\`` }), { error: 'must be an array of strings' })
    .min(1, 'must list `code`')
    .optional(),
  client_name: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(200, 'must be at most 200 characters')
    .refine((s) => !NAME_UNSAFE.test(s), 'must not contain control or bidirectional-override characters')
    .optional(),
  client_uri: displayUrl,
  logo_uri: displayUrl,
  scope: z.string({ error: 'must be a string' }).max(1000, 'must be at most 1000 characters').regex(SCOPE, 'must be space-separated scope tokens (RFC 6749 §3.3)').optional(),
  software_id: optionalString(200),
  software_version: optionalString(200),
});

function fieldPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`)).join('');
}

/** RFC 7591 request body → validated metadata, or MandateError('invalid_request') with `details.oauthError`. */
export function parseRegistration(body: unknown): ClientMetadata {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new MandateError('invalid_request', 'client metadata must be a JSON object', { details: { oauthError: 'invalid_client_metadata' } });
  }
  const parsed = registrationSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues;
    // RFC 7591 §3.2.2: a bad redirect URI value has its own error code.
    const badUri = issues.some((i) => i.path[0] === 'redirect_uris' && i.path.length > 1);
    const message = issues.map((i) => `\`${fieldPath(i.path) || '(top level)'}\`: ${i.message}`).join('; ');
    throw new MandateError('invalid_request', message, { details: { oauthError: badUri ? 'invalid_redirect_uri' : 'invalid_client_metadata' } });
  }
  const d = parsed.data;
  const first = new URL(d.redirect_uris[0]!);
  const metadata: ClientMetadata = {
    clientName: d.client_name ?? (first.host || first.protocol.slice(0, -1)),
    redirectUris: d.redirect_uris,
    grantTypes: d.grant_types ? [...new Set(d.grant_types)] : [...GRANT_TYPES],
    responseTypes: ['code'],
    raw: { ...(body as Record<string, unknown>) },
  };
  if (d.client_uri !== undefined) metadata.clientUri = d.client_uri;
  if (d.logo_uri !== undefined) metadata.logoUri = d.logo_uri;
  if (d.scope !== undefined) metadata.scope = d.scope;
  if (d.software_id !== undefined) metadata.softwareId = d.software_id;
  if (d.software_version !== undefined) metadata.softwareVersion = d.software_version;
  return metadata;
}

// ---------------------------------------------------------------------------------------------
// Client ID Metadata Documents

/** Why `id` is not a client id URL we may fetch, or null (draft-ietf-oauth-client-id-metadata-document §3). */
function clientIdUrlProblem(id: string, allowHttpHosts: string[] = []): string | null {
  let url: URL;
  try {
    url = new URL(id);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol === 'http:' ? !allowHttpHosts.includes(url.hostname) : url.protocol !== 'https:') return 'must use https';
  if (id.includes('#')) return 'must not contain a fragment (`#`)';
  if (RAW_AUTHORITY.exec(id)?.[1]?.includes('@') || url.username !== '' || url.password !== '') return 'must not contain userinfo (`user@`)';
  const rawPath = /^[^:]+:\/\/[^/?#]*([^?#]*)/.exec(id)?.[1] ?? '';
  if (rawPath.split('/').some((s) => /^(?:\.|%2e){1,2}$/i.test(s))) return 'must not contain `.` or `..` path segments';
  if (url.pathname === '/') return 'must have a path (`https://host/client.json`), not just a host';
  // The id is compared byte for byte with the document's `client_id`, and the fetch goes where
  // the parser says: only a URL already in its normalised form means the same to both.
  if (url.href !== id) return `is not in normalised form (${q(url.href)})`;
  return null;
}

/** Is `id` a client id metadata document URL we may fetch (https, a path, no fragment, userinfo or dot segments, normalised). */
export function isClientIdUrl(id: string, opts: { allowHttpHosts?: string[] } = {}): boolean {
  return clientIdUrlProblem(id, opts.allowHttpHosts) === null;
}

export interface CimdFetchOptions {
  /** Extra CA certificates (PEM) to trust besides the system roots (tests use a self-signed fixture). */
  ca?: string | Buffer;
  /** Deadline for the whole fetch: lookup, connect, TLS, headers and body (default 5000). */
  timeoutMs?: number;
  /** Largest document accepted (default MAX_METADATA_BYTES). */
  maxBytes?: number;
  /** Hosts for which http is accepted (tests only). */
  allowHttpHosts?: string[];
  /**
   * Fetch from loopback, private, link-local and other non-public addresses (tests, or a
   * deployment whose clients live on its own network). Off by default: a client id is a URL
   * anyone can make the server fetch (SSRF).
   */
  allowPrivateAddresses?: boolean;
}

// Addresses a public client's metadata never lives at (RFC 6890 special-purpose ranges).
// IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) are checked against the IPv4 rules by BlockList.
const NON_PUBLIC = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [['::', 128], ['::1', 128], ['64:ff9b:1::', 48], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  NON_PUBLIC.addSubnet(net, prefix, 'ipv6');
}

function isNonPublic(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && NON_PUBLIC.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

class FetchProblem extends Error {}

const PRIVATE_ADDRESS = 'MANDATE_PRIVATE_ADDRESS';

/** dns.lookup that refuses non-public addresses: the connection uses exactly the address checked (no DNS rebinding window). */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const bad = addresses.find((a) => isNonPublic(a.address));
    if (bad || addresses.length === 0) {
      return callback(Object.assign(new Error(`${hostname} resolves to a non-public address`), { code: PRIVATE_ADDRESS, address: bad?.address }), '');
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

function networkProblem(err: unknown, url: URL): FetchProblem {
  if (err instanceof FetchProblem) return err;
  const e = err as NodeJS.ErrnoException & { address?: string };
  const code = typeof e?.code === 'string' ? e.code : 'unknown error';
  if (code === PRIVATE_ADDRESS) {
    return new FetchProblem(`host ${q(url.hostname)} resolves to a non-public address${e.address ? ` (${e.address})` : ''}: not fetched`);
  }
  if (code === 'ECONNREFUSED') return new FetchProblem('cannot connect (ECONNREFUSED)');
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return new FetchProblem(`host ${q(url.hostname)} not found (${code})`);
  if (/CERT|SELF_SIGNED|UNABLE_TO_(?:GET|VERIFY)|ALTNAME/.test(code)) return new FetchProblem(`TLS certificate not trusted (${code})`);
  return new FetchProblem(`request failed (${code})`);
}

/** GET `url` and return its body, or throw a FetchProblem; every exit goes through `finish`. */
function download(url: URL, opts: Required<Pick<CimdFetchOptions, 'timeoutMs' | 'maxBytes'>> & CimdFetchOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let req: ClientRequest | undefined;
    const finish = (err: unknown, body?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err === null) return resolve(body!);
      req?.destroy(); // stops reading: nothing beyond the limit, nothing after a refusal
      reject(networkProblem(err, url));
    };
    const timer = setTimeout(() => finish(new FetchProblem(`no answer within ${opts.timeoutMs} ms (timeout)`)), opts.timeoutMs);

    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    // The lookup guard does not run for an IP literal: check it here.
    if (!opts.allowPrivateAddresses && isNonPublic(host)) {
      return finish(Object.assign(new Error('non-public address'), { code: PRIVATE_ADDRESS }));
    }
    const options: RequestOptions = {
      method: 'GET',
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      // No Accept-Encoding (no decompression bomb), no cookies, no credentials of any kind.
      headers: { accept: 'application/json', 'user-agent': 'Mandate (OAuth client metadata fetch)' },
      agent: false,
      ...(opts.allowPrivateAddresses ? {} : { lookup: publicOnlyLookup }),
    };
    req =
      url.protocol === 'https:'
        ? httpsRequest({
            ...options,
            // `ca` replaces the trusted roots; keep the system's and add the extra one.
            ...(opts.ca !== undefined ? { ca: [...rootCertificates, opts.ca] } : {}),
            ...(isIP(host) ? {} : { servername: host }),
          })
        : httpRequest(options);
    req.on('error', (err) => finish(err));
    req.on('response', (res: IncomingMessage) => {
      res.on('error', (err) => finish(err));
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400) {
        return finish(new FetchProblem(`answered with a redirect (HTTP ${status}${res.headers.location ? ` to ${q(res.headers.location)}` : ''}): redirects are not followed`));
      }
      if (status !== 200) return finish(new FetchProblem(`answered HTTP ${status}: expected 200`));
      const type = res.headers['content-type'] ?? '';
      const [mediaType, ...params] = type.split(';').map((s) => s.trim().toLowerCase());
      const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/^"|"$/g, '');
      if (mediaType !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
        return finish(new FetchProblem(`content type ${q(type || '(none)')} is not \`application/json\``));
      }
      const encoding = res.headers['content-encoding'];
      if (encoding && encoding.toLowerCase() !== 'identity') return finish(new FetchProblem(`content encoding ${q(encoding)} is not supported`));
      const declared = Number(res.headers['content-length']);
      if (res.headers['content-length'] !== undefined && declared > opts.maxBytes) {
        return finish(new FetchProblem(`document is ${declared} bytes: at most ${opts.maxBytes} accepted`));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) return finish(new FetchProblem(`document is larger than ${opts.maxBytes} bytes: not read further`));
        chunks.push(chunk);
      });
      res.on('end', () => finish(null, Buffer.concat(chunks)));
    });
    req.end();
  });
}

/**
 * Fetches the Client ID Metadata Document at `clientId` and validates it: the URL rules of
 * isClientIdUrl, a public address, no redirects, 200, application/json, at most maxBytes,
 * a JSON object whose `client_id` is `clientId` exactly (a document only describes itself),
 * no `client_secret`, then the registration rules. Errors: MandateError('invalid_client').
 */
export async function fetchClientMetadata(clientId: string, opts: CimdFetchOptions = {}): Promise<ClientMetadata> {
  const fail = (problem: string, cause?: unknown) =>
    new MandateError('invalid_client', `client metadata document ${q(clientId)}: ${problem}`, cause === undefined ? {} : { cause });

  const urlProblem = clientIdUrlProblem(clientId, opts.allowHttpHosts);
  if (urlProblem) throw fail(`the client id ${urlProblem}`);
  let body: Buffer;
  try {
    body = await download(new URL(clientId), { ...opts, timeoutMs: opts.timeoutMs ?? 5000, maxBytes: opts.maxBytes ?? MAX_METADATA_BYTES });
  } catch (err) {
    throw fail((err as Error).message);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    throw fail('is not valid UTF-8 JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw fail('must be a JSON object');
  const record = doc as Record<string, unknown>;
  // Without this, any host could serve metadata (name, logo, redirect URIs) in another client's name.
  if (record.client_id === undefined) throw fail('`client_id` is missing: the document must name its own URL');
  if (record.client_id !== clientId) throw fail(`\`client_id\` ${q(record.client_id)} is not the document's URL: a document may only describe itself`);
  if (record.client_secret !== undefined || record.client_secret_expires_at !== undefined) {
    throw fail('must not contain `client_secret`: a metadata document is public');
  }
  try {
    return parseRegistration(record);
  } catch (err) {
    throw err instanceof MandateError ? fail(err.message) : err;
  }
}
