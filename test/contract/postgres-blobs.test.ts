// The storage contract against PostgreSQL with the bodies as files in a
// directory (storage.blobs, storage/postgres/blobs-directory.ts): one
// scratch cluster for the file, a fresh database and directory per test.
import { before, after } from 'node:test';
import { defineContract } from './suite.js';
import { postgres } from './backends.js';
import { startPostgres, type PostgresCluster } from '../support/postgres.js';

let cluster: PostgresCluster | undefined;
before(async () => {
  cluster = await startPostgres();
});
after(async () => {
  await cluster?.stop();
});

defineContract(
  postgres(
    () => {
      if (!cluster) throw new Error('the PostgreSQL cluster did not start');
      return cluster;
    },
    { blobDirectory: true },
  ),
);
