// A plain SMTP sink standing in for a smarthost in the multi-node queue
// tests: it records the Message-ID of every message it answered 250 (one
// per acceptance, duplicates kept), and can hold its replies to the end of
// DATA (pause) so that a node killed meanwhile dies with messages whose
// 250 never came. A message whose connection closed before its reply is
// refused, not recorded: no 250 was given, nothing was taken.
import { SMTPServer } from 'smtp-server';

export interface HoldingSink {
  port: number;
  /** Message-IDs of the messages answered 250, one per acceptance (duplicates stay). */
  accepted: string[];
  /** Holds the replies to the end of DATA from now on, until resume(). */
  pause(): void;
  /** Answers what was held (those whose client is gone are refused) and answers at once again. */
  resume(): void;
  stop(): Promise<void>;
}

/** Answers the end of DATA after `delayMs` (0: at once), or, while paused, not until resumed. */
export async function startHoldingSink(delayMs: number): Promise<HoldingSink> {
  const accepted: string[] = [];
  let paused = false;
  let waiting: Array<() => void> = [];
  const closed = new Set<string>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    banner: 'sink',
    // stop() closes what a runner left open after a second, not smtp-server's 30.
    closeTimeout: 1000,
    onClose(session) {
      closed.add(session.id);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const answer = () => {
          if (closed.has(session.id)) return callback(new Error('connection closed'));
          const id = /^Message-ID: <([^>\r\n]{1,200})>/im.exec(Buffer.concat(chunks).toString('latin1'))?.[1] ?? '?';
          accepted.push(id);
          callback();
        };
        const later = () => (paused ? waiting.push(answer) : answer());
        if (delayMs > 0) setTimeout(later, delayMs);
        else later();
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    accepted,
    pause: () => (paused = true),
    resume: () => {
      paused = false;
      const w = waiting;
      waiting = [];
      for (const answer of w) answer();
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
