// One JSON line per event on stdout (pino).
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level = process.env.POSTINO_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' });
}
