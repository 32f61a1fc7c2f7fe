// Opens the data directory for a CLI command and closes it afterwards.
import { openStorage, type Storage } from '../../storage/index.js';
import { AdminService } from '../services/admin.js';
import type { CliContext } from './command.js';

export async function withStorage<T>(ctx: CliContext, fn: (storage: Storage, admin: AdminService) => Promise<T> | T): Promise<T> {
  const storage = openStorage(ctx.dataDir);
  try {
    const admin = new AdminService(storage);
    return await fn(storage, admin);
  } finally {
    await storage.mail.drain();
    storage.close();
  }
}
