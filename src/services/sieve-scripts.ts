// An account's Sieve scripts, as ManageSieve and the CLI manage them:
// every script is validated by the engine before it is stored, and both
// keep to the same quotas (config `sieve.maxScripts`, `sieve.maxScriptSize`).
import type { AccountRecord, ScriptInfo, Storage } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { validateScriptName } from '../../storage/names.js';
import { compile, formatSieveError } from '../../sieve/index.js';
import { formatAddress, parseAddress } from '../addresses.js';
import { DEFAULT_SIEVE_QUOTAS } from '../config.js';

/** Whose scripts: only the account id matters. */
export type ScriptOwner = Pick<AccountRecord, 'id'>;

export interface ScriptQuotas {
  /** Scripts per account. */
  maxScripts: number;
  /** Bytes (UTF-8) per script. */
  maxScriptSize: number;
}

/** Scripts larger than this are refused unless the config says otherwise. */
export const MAX_SCRIPT_BYTES = DEFAULT_SIEVE_QUOTAS.maxScriptSize;

/** A quota refusal; `quota` names which one (ManageSieve's QUOTA/MAXSCRIPTS, QUOTA/MAXSIZE). */
export class ScriptQuotaError extends MailError {
  constructor(
    readonly quota: 'MAXSCRIPTS' | 'MAXSIZE',
    message: string,
  ) {
    super('LIMIT', message);
  }
}

function tooBig(max: number): ScriptQuotaError {
  return new ScriptQuotaError('MAXSIZE', `script is larger than ${max} bytes`);
}

/** Throws BADINPUT with the positioned error ("line:col: message") when the script is invalid. */
export function validateScript(text: string, maxBytes: number = MAX_SCRIPT_BYTES): void {
  if (Buffer.byteLength(text, 'utf8') > maxBytes) throw tooBig(maxBytes);
  const r = compile(text);
  if (!r.ok) throw new MailError('BADINPUT', r.errors.map(formatSieveError).join('\n'));
}

export class SieveScriptService {
  constructor(
    private readonly storage: Pick<Storage, 'directory' | 'scripts' | 'transaction'>,
    readonly quotas: ScriptQuotas = DEFAULT_SIEVE_QUOTAS,
  ) {}

  async account(addressInput: string): Promise<AccountRecord> {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const account = await this.storage.directory.getAccount(address);
    if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    return account;
  }

  /** Validates without storing (ManageSieve CHECKSCRIPT). */
  check(text: string): void {
    validateScript(text, this.quotas.maxScriptSize);
  }

  /**
   * Stores the script (and makes it the active one): both or neither. The
   * count is checked inside the same unit of work, so two uploads at once
   * cannot pass the limit together.
   */
  async put(account: ScriptOwner, name: string, text: string, activate = false): Promise<void> {
    const n = validateScriptName(name);
    validateScript(text, this.quotas.maxScriptSize);
    await this.storage.transaction(async (tx) => {
      if (!(await tx.scripts.exists(account.id, n))) {
        const count = (await tx.scripts.list(account.id)).length;
        if (count >= this.quotas.maxScripts) throw this.tooMany();
      }
      await tx.scripts.put(account.id, n, text);
      if (activate) await tx.scripts.activate(account.id, n);
    });
  }

  /** Whether a script of `size` bytes named `name` would be taken (ManageSieve HAVESPACE); throws the quota refusal if not. */
  async haveSpace(account: ScriptOwner, name: string, size: number): Promise<void> {
    const n = validateScriptName(name);
    if (size > this.quotas.maxScriptSize) throw tooBig(this.quotas.maxScriptSize);
    if (await this.storage.scripts.exists(account.id, n)) return;
    if ((await this.storage.scripts.list(account.id)).length >= this.quotas.maxScripts) throw this.tooMany();
  }

  private tooMany(): ScriptQuotaError {
    return new ScriptQuotaError('MAXSCRIPTS', `too many scripts (limit ${this.quotas.maxScripts})`);
  }

  list(account: ScriptOwner): Promise<ScriptInfo[]> {
    return this.storage.scripts.list(account.id);
  }

  get(account: ScriptOwner, name: string): Promise<string> {
    return this.storage.scripts.get(account.id, validateScriptName(name));
  }

  activate(account: ScriptOwner, name: string | undefined): Promise<void> {
    return this.storage.scripts.activate(account.id, name === undefined ? undefined : validateScriptName(name));
  }

  remove(account: ScriptOwner, name: string): Promise<void> {
    return this.storage.scripts.remove(account.id, validateScriptName(name));
  }

  rename(account: ScriptOwner, from: string, to: string): Promise<void> {
    return this.storage.scripts.rename(account.id, validateScriptName(from), validateScriptName(to));
  }
}
