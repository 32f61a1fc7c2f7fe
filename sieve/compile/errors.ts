// Errors a script can have, always with a position. The host shows them as
// `line:col: message` (ManageSieve, `postino sieve check`).
import type { Position } from './ast.js';

export interface SieveError {
  line: number;
  col: number;
  message: string;
}

/** Thrown inside the compiler only; compile() turns it into an error list. */
export class SieveCompileError extends Error {
  readonly line: number;
  readonly col: number;
  constructor(pos: Position, message: string) {
    super(message);
    this.line = pos.line;
    this.col = pos.col;
  }
  toSieveError(): SieveError {
    return { line: this.line, col: this.col, message: this.message };
  }
}

export function formatSieveError(e: SieveError): string {
  return `${e.line}:${e.col}: ${e.message}`;
}
