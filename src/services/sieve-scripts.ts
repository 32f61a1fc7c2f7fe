// An account's Sieve scripts, as ManageSieve and the CLI manage them:
// every script is validated by the engine before it is stored.
import type { AccountRecord, ScriptInfo, Storage } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { compile, formatSieveError } from '../../sieve/index.js';
import { formatAddress, parseAddress } from '../addresses.js';

/** Scripts larger than this are refused (ManageSieve's MAXSCRIPTSIZE-like limit). */
export const MAX_SCRIPT_BYTES = 256 * 1024;

/** Throws BADINPUT with the positioned error ("line:col: message") when the script is invalid. */
export function validateScript(text: string): void {
  if (Buffer.byteLength(text, 'utf8') > MAX_SCRIPT_BYTES) throw new MailError('LIMIT', `script is larger than ${MAX_SCRIPT_BYTES} bytes`);
  const r = compile(text);
  if (!r.ok) throw new MailError('BADINPUT', r.errors.map(formatSieveError).join('\n'));
}

export class SieveScriptService {
  constructor(private readonly storage: Pick<Storage, 'directory' | 'scripts' | 'transaction'>) {}

  async account(addressInput: string): Promise<AccountRecord> {
    const a = parseAddress(addressInput);
    const address = formatAddress({ local: a.local.toLowerCase(), domain: a.domain });
    const account = await this.storage.directory.getAccount(address);
    if (!account) throw new MailError('NONEXISTENT', `no such account: ${address}`);
    return account;
  }

  /** Stores the script (and makes it the active one): both or neither. */
  async put(account: AccountRecord, name: string, text: string, activate = false): Promise<void> {
    validateScript(text);
    if (!activate) return this.storage.scripts.put(account.id, name, text);
    await this.storage.transaction(async (tx) => {
      await tx.scripts.put(account.id, name, text);
      await tx.scripts.activate(account.id, name);
    });
  }

  list(account: AccountRecord): Promise<ScriptInfo[]> {
    return this.storage.scripts.list(account.id);
  }

  get(account: AccountRecord, name: string): Promise<string> {
    return this.storage.scripts.get(account.id, name);
  }

  activate(account: AccountRecord, name: string | undefined): Promise<void> {
    return this.storage.scripts.activate(account.id, name);
  }

  remove(account: AccountRecord, name: string): Promise<void> {
    return this.storage.scripts.remove(account.id, name);
  }
}
