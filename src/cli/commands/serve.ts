// `mandate serve`: start the server; reload policies on file change or SIGHUP; shut down cleanly.

import { relative } from 'node:path';
import type { Command } from 'commander';
import { pino } from 'pino';
import { createMandate } from '../../mandate.js';
import { PolicyWatcher } from '../../policy/watch.js';
import { redactSecrets } from '../../audit/redact.js';
import { configFrom, fail } from '../context.js';
import { isPostgresUrl, redactUrl } from '../../storage/index.js';

export const LOG_REDACT = ['req.headers.authorization', 'req.headers.dpop', 'req.headers.cookie', '*.access_token', '*.client_assertion', '*.token', '*.password'];

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('start Mandate (HTTP API, OAuth, AuthZEN PDP) on the embedded SQLite store, or on PostgreSQL (store.url / MANDATE_DATABASE_URL)')
    .option('--port <port>', 'listen port (env MANDATE_PORT; default 7070)', (v) => Number.parseInt(v, 10))
    .action(async (opts: { port?: number }, cmd: Command) => {
      try {
        const config = configFrom(cmd, { port: opts.port });
        // Every log line goes through the same redaction as audit: secret values wherever they
        // appear (an upstream error echoing its Authorization header), secret-named keys, tokens.
        const logger = pino({ level: config.logging.level, redact: { paths: LOG_REDACT, censor: '[redacted]' }, base: { service: 'mandate' }, formatters: { log: (o) => redactSecrets(o) } });
        // The watcher's baseline is taken before the policies are loaded: a save that lands while
        // the server starts is then seen as a change (and reloaded), never taken as the baseline.
        let onPolicyChange: (why: string) => void = () => undefined;
        const watcher = new PolicyWatcher(config.policyDir, (why) => onPolicyChange(why));
        const m = await createMandate({ config, logger });
        // Every named secret is read once now: a missing one stops here, naming it and its source.
        try {
          await m.secrets.preload();
        } catch (err) {
          await m.close().catch(() => undefined);
          throw err;
        }
        // No background failure may take the process down: logged and counted instead.
        process.on('unhandledRejection', (err) => m.faults.note('unhandled rejection', err));
        const { url } = await m.listen();
        const rel = (p: string) => relative(process.cwd(), p) || p;
        const c = m.policy.current.compiled;
        const out = [
          `Mandate listening on ${url}`,
          `  store:       ${config.databaseUrl ? (isPostgresUrl(config.databaseUrl) ? `PostgreSQL ${redactUrl(config.databaseUrl)} (replicas share it)` : `SQLite ${config.databaseUrl.slice('sqlite:'.length)}`) : `SQLite ${rel(config.dataDir)}/mandate.db`}`,
          `  config:      ${config.configPath ? rel(config.configPath) : '(defaults)'} (trust domain ${config.trustDomain})`,
          `  policies:    ${c.policies.length} policies from ${rel(config.policyDir)}, version ${c.version}`,
          `  tools:       ${m.tools.listTools().length} in the catalogue`,
          `  admin token: ${rel(m.adminTokenPath)} (mode 0600${m.adminTokenCreated ? ', created now' : ''}); the CLI reads it from there`,
          `  signing key: ${rel(m.keys.path)}${m.keys.created ? ' (created now)' : ''}`,
        ];
        for (const w of c.warnings) out.push(`  policy warning: ${w}`);
        process.stdout.write(`${out.join('\n')}\n`);

        let timer: NodeJS.Timeout | undefined;
        const reload = (why: string) => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            m.policy
              .reload()
              .then(async (r) => {
                if (!r.changed) return logger.info({ version: r.version, why }, 'policy files changed; the policy set is the same');
                logger.info({ version: r.version, policies: m.policy.current.compiled.policies.length, why }, 'policies reloaded');
                m.events.emit('policy.reloaded', { version: r.version });
                await m.audit.record({ type: 'policy.reload', actor: 'system', outcome: 'success', data: { version: r.version, why } });
              })
              .catch((err: Error) => logger.error({ error: err.message }, 'policy reload refused; the previous policy set stays in force'));
          }, 200);
        };
        // Every save is seen, atomic replaces included (the directory is watched by name, and its
        // content hash is checked every few seconds in case an event was missed).
        onPolicyChange = reload;
        watcher.start();
        watcher.recheck('file change while starting');
        process.on('SIGHUP', () => reload('SIGHUP'));
        let closing = false;
        const shutdown = (sig: string) => {
          if (closing) return;
          closing = true;
          logger.info({ sig }, 'shutting down');
          m.close().then(
            () => process.exit(0),
            () => process.exit(1),
          );
        };
        process.on('SIGINT', () => shutdown('SIGINT'));
        process.on('SIGTERM', () => shutdown('SIGTERM'));
      } catch (err) {
        fail(err);
      }
    });
}
