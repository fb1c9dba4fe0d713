// `mandate agent create|list|show|suspend|resume|retire`. `create` makes the key pair on this
// machine: the private key goes to a 0600 file and never to the server.

import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { writeSecretFile } from '../../identity/files.js';
import { CliError } from '../client.js';
import { action, collect } from '../context.js';
import { printJson, printTable } from '../output.js';

export interface AgentKeyFile {
  agent: string;
  kid: string;
  alg: string;
  privateJwk: Record<string, unknown>;
}

function readPublicKey(arg: string): unknown {
  const text = existsSync(arg) ? readFileSync(arg, 'utf8') : arg;
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CliError('--public-key must be a JWK or JWKS (a file path or inline JSON)');
  }
  return Array.isArray(v.keys) ? v : { keys: [v] };
}

export function registerAgentCommands(program: Command): void {
  const agent = program.command('agent').description('register and manage agents (workload identities)');

  agent
    .command('create')
    .description('register an agent; generates its key pair unless --public-key is given')
    .requiredOption('--name <name>', 'agent name (lower-case), becomes spiffe://<trust-domain>/agent/<name>')
    .requiredOption('--owner <owner>', 'accountable human (email or subject)')
    .requiredOption('--purpose <text>', 'what the agent is for')
    .option('--environment <env>', 'dev, staging, prod …', 'dev')
    .option('--review-by <date>', 'YYYY-MM-DD by which the owner reviews it (default: 90 days)')
    .option('--label <label>', 'a label (repeatable)', collect, [])
    .option('--public-key <jwk>', 'register this public JWK/JWKS (file or JSON) instead of generating a key pair')
    .option('--key-out <file>', 'where to write the generated private key (default ./<name>.agent-key.json)')
    .option('--json', 'print the agent as JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        let jwks: unknown;
        let keyFile: string | undefined;
        let priv: Record<string, unknown> | undefined;
        if (o.publicKey) jwks = readPublicKey(o.publicKey);
        else {
          keyFile = resolve(o.keyOut ?? `${o.name}.agent-key.json`);
          if (existsSync(keyFile)) throw new CliError(`${keyFile} already exists: choose another --key-out or remove it`);
          const { privateKey } = await generateKeyPair('ES256', { extractable: true });
          priv = (await exportJWK(privateKey)) as Record<string, unknown>;
          const kid = await calculateJwkThumbprint(priv as never);
          priv = { ...priv, kid, alg: 'ES256' };
          const { d: _d, ...pub } = priv;
          jwks = { keys: [pub] };
        }
        const created = await client.call<Record<string, unknown>>('POST', '/api/v1/agents', {
          json: { name: o.name, owner: o.owner, purpose: o.purpose, environment: o.environment, reviewBy: o.reviewBy, labels: o.label, jwks },
        });
        if (keyFile && priv) {
          const file: AgentKeyFile = { agent: created.id as string, kid: priv.kid as string, alg: 'ES256', privateJwk: priv };
          writeSecretFile(keyFile, `${JSON.stringify(file, null, 2)}\n`);
        }
        if (o.json) printJson({ ...created, keyFile: keyFile ?? null });
        else {
          process.stdout.write(`created agent ${created.id}\n`);
          if (keyFile) process.stdout.write(`private key: ${keyFile} (mode 0600; keep it with the agent, never share it)\n`);
        }
      }),
    );

  agent
    .command('list')
    .description('list agents')
    .option('--status <status>', 'active, suspended or retired')
    .option('--owner <owner>', 'only agents of this owner')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd) => {
        const o = cmd.opts();
        const qs = new URLSearchParams();
        if (o.status) qs.set('status', o.status);
        if (o.owner) qs.set('owner', o.owner);
        const r = await client.call<{ agents: Array<Record<string, unknown>> }>('GET', `/api/v1/agents${qs.size ? `?${qs}` : ''}`);
        if (o.json) printJson(r.agents);
        else printTable(r.agents, ['name', 'status', 'environment', 'owner', 'reviewBy', 'id']);
      }),
    );

  agent
    .command('show <agent>')
    .description('show one agent (name or id)')
    .option('--json', 'print JSON')
    .action(
      action(async (client, cmd, name: string) => {
        const r = await client.call('GET', `/api/v1/agents/${encodeURIComponent(name)}`);
        printJson(r);
      }),
    );

  for (const [verb, help] of [
    ['suspend', 'kill switch: the agent cannot authenticate and its live tasks end now'],
    ['resume', 'let a suspended agent authenticate again (its ended tasks stay ended)'],
    ['retire', 'retire the agent for good'],
  ] as const) {
    agent
      .command(`${verb} <agent>`)
      .description(help)
      .option('--reason <text>', 'why (recorded in audit)')
      .option('--json', 'print JSON')
      .action(
        action(async (client, cmd, name: string) => {
          const o = cmd.opts();
          const r = await client.call<Record<string, unknown>>('POST', `/api/v1/agents/${encodeURIComponent(name)}/${verb}`, { json: o.reason ? { reason: o.reason } : {} });
          if (o.json) printJson(r);
          else process.stdout.write(`agent ${r.name} is now ${r.status}\n`);
        }),
      );
  }
}
