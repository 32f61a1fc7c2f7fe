// What the ManageSieve session needs from the rest of Postino. Implemented
// in src/services/managesieve-backend.ts over the script store, the Sieve
// engine and the shared authenticator; tests can implement it in memory.
// Errors are MailError (storage/errors.ts); a quota refusal also carries
// `quota` ('MAXSCRIPTS' | 'MAXSIZE'). The session maps them in errors.ts.

export interface SieveUser {
  accountId: number;
  address: string;
}

export interface ScriptEntry {
  name: string;
  active: boolean;
}

export type SieveSaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; user: SieveUser; data?: Buffer | undefined }
  | { kind: 'failure'; error: unknown };

export interface SieveSaslExchange {
  step(response: Buffer | undefined): Promise<SieveSaslStep>;
}

export interface SieveCapabilities {
  implementation: string;
  /** The engine's extensions, for "SIEVE". */
  sieve: readonly string[];
  /** enotify methods, for "NOTIFY" (empty: not sent). */
  notify: readonly string[];
  maxRedirects: number;
}

export interface ScriptQuotas {
  maxScripts: number;
  maxScriptSize: number;
}

export interface ManageSieveBackend {
  capabilities(): SieveCapabilities;
  readonly saslMechanisms: readonly string[];
  /** Failed authentications a session may make before it is closed. */
  readonly maxAuthFailures: number;
  quotas(): ScriptQuotas;
  startSasl(mechanism: string, remoteAddress: string): SieveSaslExchange;

  list(user: SieveUser): Promise<ScriptEntry[]>;
  get(user: SieveUser, name: string): Promise<string>;
  /** Validates (the positioned error as BADINPUT), checks the quotas, stores atomically. */
  put(user: SieveUser, name: string, text: string): Promise<void>;
  check(user: SieveUser, text: string): Promise<void>;
  haveSpace(user: SieveUser, name: string, size: number): Promise<void>;
  /** undefined: no script active. */
  activate(user: SieveUser, name: string | undefined): Promise<void>;
  /** REFUSED for the active script. */
  remove(user: SieveUser, name: string): Promise<void>;
  rename(user: SieveUser, from: string, to: string): Promise<void>;
}
