// What delivery remembers between messages (vacation replies sent, RFC 5230;
// ids seen by the duplicate test, RFC 7352), as storage/index/delivery-memory.ts.
import type { MemoryState } from './state.js';
import type { DeliveryMemoryPort } from './shapes.js';
import { foldCase } from './names.js';

export class MemoryDeliveryMemory implements DeliveryMemoryPort {
  constructor(private readonly state: MemoryState) {}

  vacationSentRecently(accountId: number, sender: string, handle: string, now = Date.now()): boolean {
    const expires = this.state.vacations.get(`${accountId}\0${foldCase(sender)}\0${handle}`);
    return expires !== undefined && expires > now;
  }

  recordVacation(accountId: number, sender: string, handle: string, periodMs: number, now = Date.now()): void {
    this.state.vacations.set(`${accountId}\0${foldCase(sender)}\0${handle}`, now + periodMs);
  }

  checkDuplicate(accountId: number, handle: string, id: string, periodMs: number, last: boolean, now = Date.now()): boolean {
    const key = `${accountId}\0${handle}\0${id}`;
    const expires = this.state.duplicates.get(key);
    const seen = expires !== undefined && expires > now;
    if (!seen || last) this.state.duplicates.set(key, now + periodMs);
    return seen;
  }

  prune(now = Date.now()): void {
    for (const map of [this.state.vacations, this.state.duplicates]) {
      for (const [key, expires] of [...map]) if (expires <= now) map.delete(key);
    }
  }
}
