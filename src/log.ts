// One JSON line per event (pino): on stdout for serve, stderr for the LDA.
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.POSTINO_LOG_LEVEL ?? 'info', fd: 1 | 2 = 1): Logger {
  return pino(
    { level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' },
    pino.destination({ fd, sync: fd === 2 }),
  );
}
