// Every limit of the IMAP protocol layer in one place, with the reason for it.

export const IMAP_LIMITS = {
  /**
   * Keywords a mailbox can hold (every storage backend keeps at most this many: a Maildir
   * name has 26 letters for them). At the limit PERMANENTFLAGS drops \*, so clients know a
   * new keyword would not be kept.
   */
  mailboxKeywords: 26,
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
  // METADATA (RFC 5464). Dovecot 2.3 sets no bounds of its own (its file dict
  // took a 20 MB value in a test); these are bounds in the spirit of its
  // quota-less design, large for what clients keep there (Thunderbird and
  // Roundcube store short settings strings) and small enough that one
  // GETMETADATA answer and one entries file stay a few MB at most.
  /** Octets of one value; a longer one gets NO [METADATA MAXSIZE n] and changes nothing. */
  metadataMaxValueSize: 64 * 1024,
  /** Entries of one mailbox (or of the server): past it NO [METADATA TOOMANY]. */
  metadataMaxEntriesPerMailbox: 256,
  /** Octets of one mailbox's names and values together (what one GETMETADATA DEPTH infinity can return): past it NO [METADATA TOOMANY]. */
  metadataMaxBytesPerMailbox: 1024 * 1024,
  /** Entries of one account, every mailbox and the server together: past it NO [METADATA TOOMANY]. */
  metadataMaxEntriesPerAccount: 4096,
  /** Octets of one account's names and values together: past it NO [METADATA TOOMANY]. */
  metadataMaxBytesPerAccount: 16 * 1024 * 1024,
  /** Longest entry name, in octets ("/private/..." included): past it NO [LIMIT]. */
  metadataMaxEntryNameLength: 1024,
  /** Most levels of an entry name below /private or /shared: past it NO [LIMIT]. */
  metadataMaxEntryDepth: 32,
} as const;

export type ImapLimits = typeof IMAP_LIMITS;
