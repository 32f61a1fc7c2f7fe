// Every limit of the IMAP protocol layer in one place, with the reason for it.

export const IMAP_LIMITS = {
  /** Longest command line (text between literals), in bytes. Dovecot allows 64 KiB. */
  maxLineLength: 65_536,
  /** Before login a literal can only be a user name or password: no big buffers for strangers. */
  maxPreAuthLiteral: 16_384,
  /**
   * All literals of one command together, in bytes: a MULTIAPPEND is held in
   * memory until it is stored, so a few messages' worth, never unbounded.
   */
  maxCommandLiterals: 128 * 1024 * 1024,
  /** Non-synchronising literals (LITERAL-) larger than this are refused, per RFC 7888. */
  maxNonSyncLiteralMinus: 4096,
  /** Tagged BAD replies in a row before the session ends (a client that is not speaking IMAP). */
  maxBadCommandsInARow: 10,
  /**
   * Failed LOGIN/AUTHENTICATE before the session ends with BYE, as in Dovecot:
   * a guesser has to reconnect; the growing delays themselves come from src/auth.
   */
  maxAuthFailures: 3,
  /** Before login: long enough for a human typing, short enough to shed idle probes. */
  preAuthTimeoutMs: 60_000,
  /** After login, also during IDLE (RFC 3501 asks for at least 30 minutes). */
  authTimeoutMs: 30 * 60_000,
  /** Nesting of parenthesized lists in a command (SEARCH, FETCH). */
  maxListDepth: 32,
  /** Arguments in one command. */
  maxArguments: 10_000,
  /** Messages whose MIME index is kept in memory per session store. */
  indexCacheEntries: 2000,
} as const;

export type ImapLimits = typeof IMAP_LIMITS;
