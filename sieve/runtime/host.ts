// What the engine cannot know by itself: the host answers. Every member is
// optional; without it the engine uses the documented default.

export type IncludeLocation = 'personal' | 'global';

export interface SieveHost {
  /** Current time for currentdate and vacation (default: the epoch, so a missing clock is visible). */
  now?(): Date;
  /** mailboxexists (RFC 5490); default false. */
  mailboxExists?(name: string): boolean;
  /**
   * duplicate (RFC 7352): has this id been seen within `seconds`? The host
   * also records it (the engine reports tracking intent; default: never seen).
   */
  duplicate?(id: string, options: { handle: string; seconds: number; last: boolean }): boolean;
  /** include (RFC 6609): the text of a script, or undefined if there is none. */
  includeScript?(name: string, location: IncludeLocation): string | undefined;
  /** environment (RFC 5183) items, e.g. domain, host, name, version, phase, remote-host. */
  environment?: Readonly<Record<string, string>>;
  /**
   * Where spamtest reads its score (RFC 5235): header holding a number, and the score meaning "certainly spam".
   * null: no scanner ran, so a header the sender wrote means nothing and the test answers "0" (untested).
   */
  spamtest?: { header: string; max: number } | null;
  /** Where virustest reads its value: a header holding a number from 0 (clean) to max (infected); null as for spamtest. */
  virustest?: { header: string; max: number } | null;
  /** Separator for subaddress :user/:detail (default "+"). */
  subaddressSeparator?: string;
  /** Vacation period bounds in seconds (defaults: at least 1 day, no maximum, default period 7 days). */
  vacation?: { minSeconds?: number; maxSeconds?: number; defaultSeconds?: number };
}
