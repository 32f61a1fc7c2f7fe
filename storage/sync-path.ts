// fsync of a file, or of a directory after renames in it, off the event loop.
import { open } from 'node:fs/promises';

export async function syncPath(target: string): Promise<void> {
  const fh = await open(target, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
