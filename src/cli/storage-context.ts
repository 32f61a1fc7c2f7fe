// Opens the data directory for a CLI command and closes it afterwards.
import { openConfiguredStorage, type Storage } from '../../storage/index.js';
import { loadConfig } from '../config.js';
import { AdminService } from '../services/admin.js';
import type { CliContext } from './command.js';

export async function withStorage<T>(ctx: CliContext, fn: (storage: Storage, admin: AdminService) => Promise<T> | T): Promise<T> {
  // The configured backend: a PostgreSQL one is the one `serve` uses, not a SQLite index of its own.
  const storage = await openConfiguredStorage(ctx.dataDir, loadConfig(ctx.configPath).storage);
  try {
    const admin = new AdminService(storage);
    return await fn(storage, admin);
  } finally {
    await storage.mail.drain();
    storage.close();
  }
}
