// The parts served on the admin port, in mounting order. Each part adds itself here.
import type { AdminRouteModule } from './app.js';
import { autoconfigRoutes } from './autoconfig/module.js';
import { metricsRoutes } from './metrics/route.js';
import { adminApiModule } from './api/module.js';
import { panelModule } from './panel.js';

export const adminRouteModules: AdminRouteModule[] = [
  metricsRoutes,
  // Before the API: it serves /api/v1/me/apple-profile itself.
  autoconfigRoutes,
  adminApiModule,
  panelModule(),
];
