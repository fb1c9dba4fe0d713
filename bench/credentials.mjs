// Credentials: task-credential issuance (ES256 signing), cold verification (a token never seen
// before), the per-call hot-path check (verified-token cache + revocation lookup), and whole
// task starts over HTTP (client assertion + startTask policy + store + signing), in one run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, jwtVerify } from 'jose';
import { KeyObject, verify as cryptoVerify } from 'node:crypto';
import { createDpopProof, generateDpopKey } from '../dist/client/index.js';
import { createClientAssertion } from '../dist/client/agent-key.js';
import { loadConfig } from '../dist/config/load.js';
import { createMandate } from '../dist/mandate.js';

const ROOT = resolve(import.meta.dirname, '..');

async function rate(n, fn) {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i);
  const t = performance.now();
  for (let i = 0; i < n; i++) await fn(i);
  return n / ((performance.now() - t) / 1000);
}

/** Like rate(), with `conc` checks in flight (as a gateway serving many agents sees them). */
async function rateConcurrent(n, conc, fn) {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => {
    while (next < n) await fn(next++);
  }));
  return n / ((performance.now() - t) / 1000);
}

export async function credentials(log = console.log) {
  const dataDir = mkdtempSync(join(tmpdir(), 'mandate-bench-cred-'));
  const config = loadConfig({ configPath: join(ROOT, 'mandate.yaml'), dataDir, port: 0, env: {} });
  config.logging.level = 'silent';
  const m = await createMandate({ config });
  const { url } = await m.listen();
  try {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(jwk);
    const agent = await m.agents.create({ name: 'bench', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...jwk, kid }] } }, 'bench');
    const started = await m.tasks.start(agent, JSON.stringify([{ type: 'mandate_task', intent: 'bench', tools: ['fs.read_text_file'], resources: ['file:///srv/*'] }]), m.endpoints.mcp);
    const task = started.task;

    const issue = await rate(3000, () => m.credentials.issue(task, agent, m.endpoints.mcp));
    const tokens = [];
    for (let i = 0; i < 3200; i++) tokens.push((await m.credentials.issue(task, agent, m.endpoints.mcp)).token);
    const cold = await rate(3000, (i) => m.credentials.verify(tokens[i + 200], m.endpoints.mcp));
    // Baseline, same run: jose's bare ES256 JWT verification of the same tokens.
    const key = m.keys.current.publicKey;
    const raw = await rate(3000, (i) => jwtVerify(tokens[i + 200], key, { algorithms: ['ES256'] }));
    // The floor, same run: the bare signature check alone through node:crypto with a ready KeyObject
    // (no parsing, no claims): what one ES256 verification costs on this core.
    const keyObject = KeyObject.from(key);
    const split = tokens.map((t) => { const i = t.lastIndexOf('.'); return [Buffer.from(t.slice(0, i)), Buffer.from(t.slice(i + 1), 'base64url')]; });
    const bare = await rate(3000, (i) => { if (!cryptoVerify('sha256', split[i + 200][0], { key: keyObject, dsaEncoding: 'ieee-p1363' }, split[i + 200][1])) throw new Error('bare verify failed'); });
    const hot = await rate(100_000, () => m.credentials.verify(started.credential.token, m.endpoints.mcp));

    // DPoP: proofs are the agent's cost and signed beforehand; the server verifies each once
    // (signature with the embedded key, method, URL, age, ath, thumbprint, replay cache).
    const dpopKey = await generateDpopKey();
    const bound = await m.tasks.start(agent, JSON.stringify([{ type: 'mandate_task', intent: 'bench', tools: ['fs.read_text_file'], resources: ['file:///srv/*'] }]), m.endpoints.mcp, { jkt: await calculateJwkThumbprint(dpopKey.publicJwk) });
    const boundToken = bound.credential.token;
    const jkt = await calculateJwkThumbprint(dpopKey.publicJwk);
    const proofs = [];
    for (let i = 0; i < 3200; i++) proofs.push(await createDpopProof(dpopKey, 'POST', m.endpoints.mcp, { accessToken: boundToken }));
    let nextProof = 0; // each proof is single-use, warm-up included
    const dpop = await rate(3000, () => m.dpop.verify(proofs[nextProof++], { method: 'POST', url: m.endpoints.mcp, accessToken: boundToken, jkt }));
    // The whole per-request check on a bound credential: cached token check + a fresh proof.
    const proofs2 = [];
    for (let i = 0; i < 2200; i++) proofs2.push(await createDpopProof(dpopKey, 'POST', m.endpoints.mcp, { accessToken: boundToken }));
    let nextProof2 = 0;
    const hotBound = await rate(2000, async () => {
      await m.credentials.verify(boundToken, m.endpoints.mcp);
      await m.dpop.verify(proofs2[nextProof2++], { method: 'POST', url: m.endpoints.mcp, accessToken: boundToken, jkt });
    });

    // The same, 32 requests in flight (single-use proof ids then go to the store in group commits).
    const proofs3 = [];
    for (let i = 0; i < 6000; i++) proofs3.push(await createDpopProof(dpopKey, 'POST', m.endpoints.mcp, { accessToken: boundToken }));
    const hotBoundConc = await rateConcurrent(6000, 32, async (i) => {
      await m.credentials.verify(boundToken, m.endpoints.mcp);
      await m.dpop.verify(proofs3[i], { method: 'POST', url: m.endpoints.mcp, accessToken: boundToken, jkt });
    });

    // Delegated-token issuance: the whole token exchange minus HTTP (child assertion verified,
    // subset/TTL/depth checks, Cedar delegate + startTask, store, sign); child assertions signed beforehand.
    const { privateKey: cPriv, publicKey: cPub } = await generateKeyPair('ES256');
    const cJwk = await exportJWK(cPub);
    const cKid = await calculateJwkThumbprint(cJwk);
    const child = await m.agents.create({ name: 'bench-child', owner: 'o@corp.example', purpose: 'bench', environment: 'dev', jwks: { keys: [{ ...cJwk, kid: cKid }] } }, 'bench');
    const childKey = { agentId: child.id, kid: cKid, alg: 'ES256', privateKey: cPriv };
    const parent = (await m.tasks.start(agent, JSON.stringify([{ type: 'mandate_task', intent: 'bench', tools: ['fs.read_text_file'], resources: ['file:///srv/*'], ttl: 600 }]), m.endpoints.mcp)).task;
    const childAssertions = [];
    let nextAssertion = 0;
    for (let i = 0; i < 1700; i++) childAssertions.push(await createClientAssertion(childKey, m.endpoints.token));
    const childDetails = JSON.stringify([{ type: 'mandate_task', intent: 'bench child', tools: ['fs.read_text_file'], resources: ['file:///srv/reports/*'], ttl: 60 }]);
    const delegated = await rate(1500, async () => {
      const { agent: c } = await m.assertions.verify(childAssertions[nextAssertion++], undefined);
      await m.tasks.delegate({ parent, parentAgent: agent, child: c, rawDetails: childDetails, audience: m.endpoints.mcp, bind: {}, maxDepth: 3 });
    });

    // Whole task starts over HTTP, 8 in flight; assertions are signed beforehand (they are the agent's cost).
    const N = 1500;
    const assertions = [];
    const now = Math.floor(Date.now() / 1000);
    for (let i = 0; i < N; i++) {
      assertions.push(await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(agent.id).setSubject(agent.id).setAudience(`${url}/oauth/token`).setIssuedAt(now).setExpirationTime(now + 120).setJti(`bench-${i}-${Math.random()}`).sign(privateKey));
    }
    const details = JSON.stringify([{ type: 'mandate_task', intent: 'bench', tools: ['fs.read_text_file'], resources: ['file:///srv/*'] }]);
    let next = 0;
    let failures = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) {
          const a = assertions[next++];
          const r = await fetch(`${url}/oauth/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: a, authorization_details: details }),
          });
          await r.arrayBuffer();
          if (r.status !== 200) failures++;
        }
      }),
    );
    const http = N / ((performance.now() - t0) / 1000);
    if (failures) throw new Error(`${failures} task starts failed`);

    log('Credentials (one process, one core)');
    log(`  issuance (sign a task credential)        ${Math.round(issue).toString().padStart(7)} /s   (target >= 2,000)`);
    log(`  cold verification (new token each time) ${Math.round(cold).toString().padStart(7)} /s   (target >= 0.8x bare node:crypto ES256 verify, this run ${Math.round(bare)} /s: ratio ${(cold / bare).toFixed(2)}; bare jose ${Math.round(raw)} /s, ratio ${(cold / raw).toFixed(2)})`);
    log(`  per-call check (cache + revocation)      ${Math.round(hot).toString().padStart(7)} /s   (target >= 20,000)`);
    log(`  DPoP proof verification                  ${Math.round(dpop).toString().padStart(7)} /s   (per request to /mcp on a bound credential, replay check in the store included; bare node:crypto verify ${(dpop / bare).toFixed(2)}x)`);
    log(`  per-call check with DPoP proof           ${Math.round(hotBound).toString().padStart(7)} /s   one at a time; ${Math.round(hotBoundConc)} /s with 32 in flight (target >= 10,000; bounded by one asymmetric verification per request: ${(hotBoundConc / bare).toFixed(2)}x the bare verify rate)`);
    log(`  delegated-token issuance (token exchange without HTTP) ${Math.round(delegated)} /s   (child assertion + checks + Cedar delegate/startTask + store + sign)`);
    log(`  task start over HTTP (assertion + policy + store + sign, 8 in flight, server and client in one process) ${Math.round(http)} /s`);
    return { issue, cold, raw, bare, hot, http, dpop, delegated, hotBound, hotBoundConc };
  } finally {
    await m.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await credentials();
