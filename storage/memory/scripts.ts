// Sieve scripts in memory, as storage/scripts.ts keeps them (index rows
// plus files): at most one active per account, the active one cannot be
// removed (RFC 5804 DELETESCRIPT), a rename keeps it active.
import { MailError } from '../errors.js';
import type { ScriptInfo } from '../scripts.js';
import type { MemScript, MemoryState } from './state.js';
import type { ScriptStorePort } from './shapes.js';
import { MAX_SCRIPTS_PER_ACCOUNT, byteOrder, validateScriptName } from './names.js';

export class MemoryScriptStore implements ScriptStorePort {
  constructor(private readonly state: MemoryState) {}

  private scriptsOf(accountId: number, create = false): Map<string, MemScript> {
    let map = this.state.scripts.get(accountId);
    if (!map) {
      map = new Map();
      if (create) this.state.scripts.set(accountId, map);
    }
    return map;
  }

  list(accountId: number): ScriptInfo[] {
    return [...this.scriptsOf(accountId)]
      .sort(([a], [b]) => byteOrder(a, b))
      .map(([name, s]) => ({ name, active: s.active }));
  }

  get(accountId: number, name: string): string {
    const n = validateScriptName(name);
    const s = this.scriptsOf(accountId).get(n);
    if (!s) throw new MailError('NONEXISTENT', `no such script: ${n}`);
    return s.text;
  }

  exists(accountId: number, name: string): boolean {
    return this.scriptsOf(accountId).has(name);
  }

  active(accountId: number): { name: string; text: string } | undefined {
    for (const [name, s] of this.scriptsOf(accountId)) if (s.active) return { name, text: s.text };
    return undefined;
  }

  put(accountId: number, name: string, text: string): void {
    const n = validateScriptName(name);
    const scripts = this.scriptsOf(accountId);
    if (!scripts.has(n) && scripts.size >= MAX_SCRIPTS_PER_ACCOUNT) throw new MailError('LIMIT', `too many scripts (limit ${MAX_SCRIPTS_PER_ACCOUNT})`);
    if (!this.state.accounts.has(accountId)) throw new MailError('NONEXISTENT', 'no such account');
    const old = scripts.get(n);
    this.scriptsOf(accountId, true).set(n, { text, active: old?.active ?? false });
  }

  activate(accountId: number, name: string | undefined): void {
    const scripts = this.scriptsOf(accountId);
    if (name !== undefined && !scripts.has(validateScriptName(name))) throw new MailError('NONEXISTENT', `no such script: ${name}`);
    for (const [n, s] of scripts) s.active = n === name;
  }

  remove(accountId: number, name: string): void {
    const n = validateScriptName(name);
    const scripts = this.scriptsOf(accountId);
    const s = scripts.get(n);
    if (!s) throw new MailError('NONEXISTENT', `no such script: ${n}`);
    if (s.active) throw new MailError('REFUSED', `script ${n} is active; deactivate it first`);
    scripts.delete(n);
  }

  rename(accountId: number, from: string, to: string): void {
    const a = validateScriptName(from);
    const b = validateScriptName(to);
    const scripts = this.scriptsOf(accountId);
    const s = scripts.get(a);
    if (!s) throw new MailError('NONEXISTENT', `no such script: ${a}`);
    if (scripts.has(b)) throw new MailError('ALREADYEXISTS', `script ${b} exists already`);
    scripts.delete(a);
    scripts.set(b, s);
  }

  removeAll(accountId: number): void {
    if (!this.state.accounts.has(accountId)) throw new MailError('NONEXISTENT', 'no such account');
    this.state.scripts.delete(accountId);
  }
}
