// Sequence sets ("1:3,5,7:*") for message sequence numbers and UIDs.
import { ImapParseError } from './parser.js';

/** A range; 0 stands for "*" (the largest number in use). */
export type SeqRange = [number, number];

/** Index of the first element >= value in an ascending array (its length when none is). */
export function firstAtLeast(sorted: readonly number[], value: number): number {
  let l = 0;
  let h = sorted.length;
  while (l < h) {
    const mid = (l + h) >> 1;
    if (sorted[mid]! < value) l = mid + 1;
    else h = mid;
  }
  return l;
}

export function parseSequenceSet(text: string): SeqRange[] {
  if (text === '' || text.length > 100_000) throw new ImapParseError('Bad sequence set');
  const out: SeqRange[] = [];
  for (const part of text.split(',')) {
    const m = /^(\d+|\*)(?::(\d+|\*))?$/.exec(part);
    if (m === null) throw new ImapParseError('Bad sequence set');
    const a = m[1] === '*' ? 0 : Number(m[1]);
    const b = m[2] === undefined ? a : m[2] === '*' ? 0 : Number(m[2]);
    if ((m[1] !== '*' && a < 1) || (m[2] !== undefined && m[2] !== '*' && b < 1) || a > 0xffffffff || b > 0xffffffff) {
      throw new ImapParseError('Bad sequence set');
    }
    out.push([a, b]);
  }
  return out;
}

export function isSequenceSet(text: string): boolean {
  return /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(text);
}

/** Whether n is in the set, "*" meaning max. */
export function inSequenceSet(set: SeqRange[], n: number, max: number): boolean {
  for (const [a0, b0] of set) {
    const a = a0 === 0 ? max : a0;
    const b = b0 === 0 ? max : b0;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

/**
 * The members of `sorted` (ascending) that are in the set. For UIDs "*" is
 * the largest UID; for sequence numbers pass 1..n.
 */
export function selectFromSorted(set: SeqRange[], sorted: readonly number[]): number[] {
  const max = sorted.length > 0 ? sorted[sorted.length - 1]! : 0;
  if (sorted.length === 0) return [];
  const out = new Set<number>();
  for (const [a0, b0] of set) {
    const a = a0 === 0 ? max : a0;
    const b = b0 === 0 ? max : b0;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    for (let i = firstAtLeast(sorted, lo); i < sorted.length && sorted[i]! <= hi; i++) out.add(sorted[i]!);
  }
  return [...out].sort((x, y) => x - y);
}

/** Compacts ascending numbers into "1:3,5" form. */
export function formatSequenceSet(nums: readonly number[]): string {
  if (nums.length === 0) return '';
  const sorted = [...nums].sort((a, b) => a - b);
  const parts: string[] = [];
  let start = sorted[0]!;
  let prev = start;
  for (let i = 1; i <= sorted.length; i++) {
    const n = sorted[i];
    if (n !== undefined && n === prev + 1) {
      prev = n;
      continue;
    }
    if (n !== undefined && n === prev) continue;
    parts.push(start === prev ? `${start}` : `${start}:${prev}`);
    if (n !== undefined) start = prev = n;
  }
  return parts.join(',');
}

/** Keeps the pairing of COPYUID's two lists: each run is a,b,c in order. */
export function formatUidList(nums: readonly number[]): string {
  const parts: string[] = [];
  let i = 0;
  while (i < nums.length) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    parts.push(i === j ? `${nums[i]}` : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
