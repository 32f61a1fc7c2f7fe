// The listeners `serve` starts, in order. Each protocol adds itself here.
import type { ServiceDefinition } from './postino-server.js';

export const allServices: ServiceDefinition[] = [];
