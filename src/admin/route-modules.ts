// The parts served on the admin port, in mounting order. Each part adds itself here.
import type { AdminRouteModule } from './app.js';
import { adminApiModule } from './api/module.js';
import { panelModule } from './panel.js';

export const adminRouteModules: AdminRouteModule[] = [adminApiModule, panelModule()];
