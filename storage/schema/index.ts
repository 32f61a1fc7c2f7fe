// Every schema step of both backends, in one place, and the rules both
// runners follow (storage/index/database.ts for SQLite, storage/postgres/
// migrations.ts for PostgreSQL):
// - a backend's steps are numbered 1..N with no gap; a database records the
//   last step it has (SQLite: PRAGMA user_version; PostgreSQL: one row per
//   step in schema_version), so a step is never applied twice;
// - at open, the steps above the recorded version run in order, with the
//   version recorded after each, all in one transaction (a failed step
//   leaves the database as it was);
// - a database recording a version above this build's last step was
//   written by a newer Postino: it is refused, never "migrated" back.
// A released step is never edited (test/unit/storage/schema.test.ts pins
// each one's SQL): a change is a new step at the end.
// No database driver here: the runners are the backends' own.
import { MailError } from '../errors.js';
import { SQLITE_STEPS } from './sqlite.js';
import { POSTGRES_STEPS } from './postgres.js';

export type SchemaBackend = 'sqlite' | 'postgres';

export interface SchemaStep {
  /** The version a database is at once this step is applied: 1, 2, 3... */
  version: number;
  /** What the step brings, for people. */
  name: string;
  sql: string;
}

export const SCHEMA_STEPS: Readonly<Record<SchemaBackend, readonly SchemaStep[]>> = {
  sqlite: SQLITE_STEPS,
  postgres: POSTGRES_STEPS,
};

const LABELS: Record<SchemaBackend, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

/** The version of this build's last step. */
export function latestVersion(backend: SchemaBackend): number {
  return Math.max(0, ...SCHEMA_STEPS[backend].map((s) => s.version));
}

/**
 * The steps a database recording `recorded` still needs, in order (none
 * when it is current). A database newer than this build is refused.
 */
export function pendingSteps(backend: SchemaBackend, recorded: number): SchemaStep[] {
  if (!Number.isSafeInteger(recorded) || recorded < 0) {
    throw new MailError('INTERNAL', `the ${LABELS[backend]} database records schema version ${String(recorded)}, which is not a version`);
  }
  const latest = latestVersion(backend);
  if (recorded > latest) {
    throw new MailError('REFUSED', `${LABELS[backend]} database schema is at version ${recorded}, this Postino knows up to ${latest}; upgrade Postino`);
  }
  return SCHEMA_STEPS[backend].filter((s) => s.version > recorded).sort((a, b) => a.version - b.version);
}

/** Where a database stands against this build. */
export interface SchemaStatus {
  backend: SchemaBackend;
  /** The version the database records (0: none applied, or no database yet). */
  version: number;
  /** This build's last step. */
  latest: number;
  /** current: nothing to do; behind: steps to apply (the next open applies them); ahead: a newer Postino wrote it. */
  state: 'current' | 'behind' | 'ahead';
  /** The names of the steps the next open applies. */
  pending: string[];
}

export function schemaStatus(backend: SchemaBackend, recorded: number): SchemaStatus {
  const latest = latestVersion(backend);
  const state = recorded === latest ? 'current' : recorded < latest ? 'behind' : 'ahead';
  const pending = state === 'behind' ? pendingSteps(backend, recorded).map((s) => s.name) : [];
  return { backend, version: recorded, latest, state, pending };
}

/** Why a step list breaks the numbering rule (1..N in order, no gap, no repeat); empty when it keeps it. */
export function numberingProblems(steps: readonly SchemaStep[]): string[] {
  const problems: string[] = [];
  steps.forEach((s, i) => {
    if (s.version !== i + 1) problems.push(`step ${i + 1} in the list is numbered ${s.version}`);
    if (s.sql.trim() === '') problems.push(`step ${s.version} has no SQL`);
    if (s.name.trim() === '') problems.push(`step ${s.version} has no name`);
  });
  return problems;
}
