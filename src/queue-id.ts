// Queue ids for replies and logs ("queued as 3F2A9C01B7E4"): 12 random hex
// digits, drawn from a pool refilled 4 KB at a time, since asking the kernel
// for 6 bytes per message costs a syscall each time.
import { randomFillSync } from 'node:crypto';

const ID_BYTES = 6;
const pool = Buffer.alloc(4096);
let offset = pool.length;

export function newQueueId(): string {
  if (offset + ID_BYTES > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const id = pool.toString('hex', offset, offset + ID_BYTES).toUpperCase();
  offset += ID_BYTES;
  return id;
}
