// The parts served on the admin port, in mounting order. Each part adds itself here.
import type { AdminRouteModule } from './app.js';
import { adminApiModule } from './api/module.js';

export const adminRouteModules: AdminRouteModule[] = [adminApiModule];
