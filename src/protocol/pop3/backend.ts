// What the POP3 session needs from the rest of Postino. Implemented in
// src/services/pop3-backend.ts over the mail store and the authenticator.
// Errors are MailError-shaped ({ code }): errors.ts maps their codes to
// replies and never shows the text of anything else.

export interface Pop3User {
  accountId: number;
  address: string;
}

export type Pop3SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; user: Pop3User; data?: Buffer | undefined }
  | { kind: 'failure'; error: unknown };

export interface Pop3SaslExchange {
  step(response: Buffer | undefined): Promise<Pop3SaslStep>;
}

/** One message of the maildrop as it was at login. */
export interface Pop3Message {
  uid: number;
  /** Octets as stored (messages are stored with CRLF line ends). */
  size: number;
  /** The unique-id listing (RFC 1939 7): 1-70 chars in 0x21..0x7E, stable for the message's life. */
  uidl: string;
  /** \Seen at login: RETR has no flag to store (a re-download does no index work). */
  seen?: boolean;
  /** The store knows the message has CRLF line ends only: RETR need not look at each line (only dot-stuff). */
  crlf?: boolean;
  /** The store knows no line starts with ".": with `crlf`, RETR sends the bytes as they are (nothing to dot-stuff). */
  dotFree?: boolean;
}

/** A message's bytes lent by the store (Pop3Backend.readManyLent); release() may be called more than once. */
export interface Pop3LentMessage {
  readonly bytes: Buffer;
  release(): void;
}

/** The INBOX at login: message numbers are positions in `messages` (1-based) for the whole session. */
export interface Pop3Maildrop {
  mailboxId: number;
  messages: Pop3Message[];
}

export interface Pop3Backend {
  /** SASL mechanisms offered (upper case). */
  readonly saslMechanisms: readonly string[];
  login(username: string, password: string, ip: string): Promise<Pop3User>;
  startSasl(mechanism: string, ip: string): Pop3SaslExchange;
  /** A SASL response that was not valid base64 or too long: logged and slowed like a failed login. */
  malformed(mechanism: string, ip: string): Promise<void>;
  /**
   * Claims the account's maildrop for one session; undefined while another
   * session holds it. Call the returned function to let go (idempotent).
   */
  lock(user: Pop3User): (() => void) | undefined;
  /** The INBOX, snapshot now. */
  open(user: Pop3User): Promise<Pop3Maildrop>;
  /** A message's stored bytes; NONEXISTENT when it has gone since login. */
  read(user: Pop3User, drop: Pop3Maildrop, uid: number): Promise<Buffer>;
  /**
   * As read, for several messages at once (a pipelined download's
   * read-ahead), in memory lent by the store: for each uid, in order, its
   * bytes or the error read would have given. The session copies the bytes
   * into its reply and then calls release(), after which it must not look
   * at them. Optional (then read serves).
   */
  readManyLent?(user: Pop3User, drop: Pop3Maildrop, uids: readonly number[]): Promise<Array<Pop3LentMessage | Error>>;
  /** Adds \Seen to these messages (RETR, applied in batches); ones gone are no error. */
  markSeen(user: Pop3User, drop: Pop3Maildrop, uids: number[]): Promise<void>;
  /** Expunges these messages (the UPDATE state); ones already gone are no error. */
  remove(user: Pop3User, drop: Pop3Maildrop, uids: number[]): Promise<void>;
}
