// The storage contract against the SQLite index with Maildir bodies.
import { defineContract } from './suite.js';
import { sqliteMaildir } from './backends.js';

defineContract(sqliteMaildir);
