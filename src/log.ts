// One JSON line per event (pino): on stdout for serve, stderr for the LDA.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Log lines held while the output cannot be written (a log file on a full disk); more are dropped. */
const MAX_UNWRITTEN_BYTES = 8 * 1024 * 1024;

/**
 * `node` (node.name) goes in every line: with several nodes writing to one
 * log store, each line says which one wrote it.
 */
export function createLogger(level = process.env.POSTINO_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1, node?: string): Logger {
  const destination = pino.destination({ fd, sync: fd === 2, maxLength: MAX_UNWRITTEN_BYTES });
  // A log that cannot be written (stdout sent to a file on a full disk) must
  // not stop the server: the lines wait (up to the bound) and go out with
  // the next line once there is room; stderr says so, once per outage.
  let failing = false;
  destination.on('error', (err: NodeJS.ErrnoException) => {
    if (failing) return;
    failing = true;
    process.stderr.write(`postino: cannot write the log (${err.code ?? err.message}); holding lines until it can\n`);
  });
  destination.on('write', () => (failing = false));
  // At exit pino flushes synchronously, and sonic-boom retries a failing
  // write forever: while the output fails, the lines held are given up.
  const flushSync = destination.flushSync.bind(destination);
  destination.flushSync = () => {
    if (!failing) flushSync();
  };
  return pino({ level, base: node === undefined ? undefined : { node }, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' }, destination);
}
