// A user's out-of-office reply as a Sieve script named "vacation", kept
// through the same script store and validator as ManageSieve. While it is on
// it is the active script; the script active before is remembered in the
// vacation script's first line and made active again when it is turned off.
import type { Storage, UnitOfWork } from '../../storage/ports.js';
import { MailError } from '../../storage/errors.js';
import { SieveScriptService, type ScriptQuotas } from './sieve-scripts.js';
import { audit, type Actor } from './audit.js';

export const VACATION_SCRIPT = 'vacation';
const MARK = '# postino-vacation ';

export interface VacationSettings {
  enabled: boolean;
  subject: string;
  message: string;
  /** Days between two replies to one sender (RFC 5230 :days). */
  days: number;
  /** YYYY-MM-DD: replies only from this day... */
  from?: string | undefined;
  /** ...up to and including this one. */
  until?: string | undefined;
}

interface Stored extends VacationSettings {
  /** The script active before the vacation took over. */
  previous?: string | undefined;
}

/** A Sieve quoted string (RFC 5228 2.4.2): backslash and double quote escaped. */
function quoted(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function vacationScript(s: Stored): string {
  for (const [field, value] of [['from', s.from], ['until', s.until]] as const) {
    if (value !== undefined && (!DATE.test(value) || Number.isNaN(Date.parse(value)))) throw new MailError('BADINPUT', `${field}: not a date (YYYY-MM-DD)`);
  }
  const conditions: string[] = [];
  if (s.from) conditions.push(`currentdate :value "ge" "date" ${quoted(s.from)}`);
  if (s.until) conditions.push(`currentdate :value "le" "date" ${quoted(s.until)}`);
  const action = `vacation :days ${s.days} :subject ${quoted(s.subject)} ${quoted(s.message)};`;
  const requires = conditions.length > 0 ? '["vacation", "date", "relational"]' : '["vacation"]';
  const body = conditions.length > 0 ? `if allof (${conditions.join(', ')}) {\n  ${action}\n}` : action;
  return `${MARK}${JSON.stringify(s)}\nrequire ${requires};\n${body}\n`;
}

function settingsOf(text: string): Stored | undefined {
  const line = text.slice(0, text.indexOf('\n'));
  if (!line.startsWith(MARK)) return undefined;
  try {
    return JSON.parse(line.slice(MARK.length)) as Stored;
  } catch {
    return undefined;
  }
}

const OFF: VacationSettings = { enabled: false, subject: '', message: '', days: 7 };

export class VacationService {
  constructor(
    private readonly storage: Pick<Storage, 'directory' | 'scripts' | 'transaction'>,
    private readonly quotas: ScriptQuotas,
    private readonly actor: Actor,
  ) {}

  async get(accountId: number): Promise<VacationSettings> {
    if (!(await this.storage.scripts.exists(accountId, VACATION_SCRIPT))) return { ...OFF };
    const s = settingsOf(await this.storage.scripts.get(accountId, VACATION_SCRIPT));
    if (!s) return { ...OFF };
    const active = (await this.storage.scripts.active(accountId))?.name === VACATION_SCRIPT;
    const { previous: _previous, ...settings } = s;
    return { ...settings, enabled: active };
  }

  /** Stores the settings; on: the vacation script becomes active; off: the one active before it does again. */
  async set(account: { id: number; address: string }, settings: VacationSettings): Promise<VacationSettings> {
    if (settings.enabled && settings.message.trim() === '') throw new MailError('BADINPUT', 'message: an out-of-office reply needs a text');
    await this.storage.transaction(async (tx: UnitOfWork) => {
      const scripts = new SieveScriptService({ directory: tx.directory, scripts: tx.scripts, transaction: (b) => tx.transaction(b) }, this.quotas);
      const old = (await tx.scripts.exists(account.id, VACATION_SCRIPT)) ? settingsOf(await tx.scripts.get(account.id, VACATION_SCRIPT)) : undefined;
      const activeName = (await tx.scripts.active(account.id))?.name;
      const wasOn = activeName === VACATION_SCRIPT;
      const previous = wasOn ? old?.previous : activeName;
      await scripts.put(account, VACATION_SCRIPT, vacationScript({ ...settings, previous }), false);
      if (settings.enabled) await tx.scripts.activate(account.id, VACATION_SCRIPT);
      else if (wasOn) await tx.scripts.activate(account.id, previous !== undefined && (await tx.scripts.exists(account.id, previous)) ? previous : undefined);
      const { previous: _p, ...before }: Stored = old ?? OFF;
      await audit(tx, this.actor, 'vacation.set', account.address, old ? { ...before, enabled: wasOn } : null, settings);
    });
    return this.get(account.id);
  }
}
