// The storage contract against the in-memory backend (storage/memory/).
import { defineContract } from './suite.js';
import { memory } from './backends.js';

defineContract(memory);
