// The parts served on the admin port, in mounting order. Each part adds itself here.
import type { AdminRouteModule } from './app.js';
import { autoconfigRoutes } from './autoconfig/module.js';
import { metricsRoutes } from './metrics/route.js';

export const adminRouteModules: AdminRouteModule[] = [
  metricsRoutes,
  autoconfigRoutes,
];
