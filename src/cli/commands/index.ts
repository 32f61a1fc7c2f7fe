// The registry of CLI commands: each group lives in its own module.
import type { CliCommand } from '../command.js';
import { adminCommands } from './admin.js';
import { adminAccountCommands } from './admin-accounts.js';
import { maintenanceCommands } from './maintenance.js';
import { serveCommands } from './serve.js';
import { sieveEngineCommands } from './sieve-engine.js';
import { scriptCommands } from './scripts.js';
import { deliverCommands } from './deliver.js';
import { queueCommands } from './queue.js';
import { dnsCommands } from './dns.js';
import { dkimCommands } from './dkim.js';
import { scanCommands } from './scan.js';
import { backupCommands } from './backup.js';
import { importCommands } from './import.js';
import { migrateCommands } from './migrate.js';
import { systemdCommands } from './systemd.js';

export const allCommands: CliCommand[] = [
  ...sieveEngineCommands,
  ...scriptCommands,
  ...adminCommands,
  ...adminAccountCommands,
  ...deliverCommands,
  ...queueCommands,
  ...dnsCommands,
  ...dkimCommands,
  ...scanCommands,
  ...maintenanceCommands,
  ...backupCommands,
  ...importCommands,
  ...migrateCommands,
  ...serveCommands,
  ...systemdCommands,
];
