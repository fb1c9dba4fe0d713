#!/usr/bin/env node
// The `mandate` command.

import { Command } from 'commander';
import { registerAgentCommands } from './commands/agent.js';
import { registerApprovalCommands } from './commands/approvals.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerPolicyCommands } from './commands/policy.js';
import { registerReviewCommands } from './commands/review.js';
import { registerReportCommand } from './commands/report.js';
import { registerServeCommand } from './commands/serve.js';
import { registerTaskCommands } from './commands/task.js';
import { registerTokenCommands } from './commands/token.js';
import { registerClientCommands } from './commands/client.js';
import { registerToolCommands } from './commands/tools.js';
import { registerUpstreamCommands } from './commands/upstream.js';

const program = new Command('mandate')
  .description('Mandate: least privilege for AI agents at runtime')
  .version('0.1.0')
  .option('--config <file>', 'mandate.yaml (env MANDATE_CONFIG; default ./mandate.yaml)')
  .option('--data-dir <dir>', 'data directory (env MANDATE_DATA_DIR; default .mandate)')
  .option('--url <url>', 'server URL for client commands (env MANDATE_URL; default from config)')
  .option('--token <token>', 'admin token for client commands (env MANDATE_TOKEN; default <data-dir>/admin-token)')
  .option('--debug', 'show stack traces with errors (env MANDATE_DEBUG=1)')
  .showHelpAfterError('(run with --help for usage)');

registerServeCommand(program);
registerMigrateCommand(program);
registerAgentCommands(program);
registerTaskCommands(program);
registerAuditCommands(program);
registerPolicyCommands(program);
registerReviewCommands(program);
registerReportCommand(program);
registerTokenCommands(program);
registerClientCommands(program);
registerToolCommands(program);
registerUpstreamCommands(program);
registerApprovalCommands(program);

await program.parseAsync(process.argv);
