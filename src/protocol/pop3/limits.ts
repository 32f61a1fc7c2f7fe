// Every bound a POP3 session keeps, in one place.

/** A command line, CRLF included (RFC 2449 4: 255 octets). */
export const MAX_COMMAND_LINE = 255;
/** A SASL response line during AUTH (RFC 5034 4 lifts the command limit for these); SCRAM needs a few KB at most. */
export const MAX_SASL_LINE = 8192 + 2;
/** Commands in one session: enough for RETR and DELE of a very large maildrop, and an end for a client that loops. */
export const MAX_COMMANDS_PER_SESSION = 250_000;
/** Commands before a successful login: a client that only guesses or babbles is let go. */
export const MAX_COMMANDS_BEFORE_AUTH = 100;
/** Failed logins in one session before it is closed (as IMAP, Dovecot: 3). */
export const MAX_AUTH_FAILURES = 3;
/** Lines received but not yet handled (pipelining); more closes the session. */
export const MAX_QUEUED_LINES = 4096;
/** Inactivity before the session ends (RFC 1939 3: at least 10 minutes). */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** The largest line count TOP takes; more is the whole body. */
export const MAX_TOP_LINES = 1_000_000_000;
/**
 * RETR's \Seen flags are stored together, off the path of the RETRs: at
 * QUIT, at the end of the connection, or SEEN_DELAY_MS after the first one
 * not stored yet, whichever comes first (so IMAP sees a RETR's \Seen about a
 * second later at most). One durable write per message would cost more than
 * sending it, and in Maildir each flag is a rename.
 */
export const SEEN_DELAY_MS = 1000;
/** They are stored this many per write: one write holds the event loop (its renames) for a few ms, not longer. */
export const SEEN_BATCH = 256;
/**
 * Pipelined RETRs whose messages are read ahead while the current one is
 * sent, at most this many and bytes. Refilled once half are used, so the
 * reads go to the store in batches, not one by one: each batch pays a
 * fixed cost (a hand-off, the index's first look of an event-loop turn,
 * some 10 µs with cold CPU caches), and 128 rather than 64 took the main
 * thread's CPU per message of bench/pop3.ts down about 8%.
 */
export const READ_AHEAD_MESSAGES = 128;
export const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * Replies to pipelined commands are gathered up to this many bytes and sent
 * in one write (one syscall instead of one per message); whatever is
 * gathered goes out as soon as no further command is waiting or the next
 * one would have to wait for something.
 */
export const OUTPUT_BATCH_BYTES = 64 * 1024;
