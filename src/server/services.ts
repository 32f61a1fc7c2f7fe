// The listeners `serve` starts, in order. Each protocol adds itself here.
import type { ServiceDefinition } from './postino-server.js';
import { smtpServices } from '../smtp/services.js';
import { imapService, imapsService } from './imap-service.js';
import { authenticatorFor } from './shared-authenticator.js';
import { manageSieveService } from './managesieve-service.js';
import { pop3Service, pop3sService } from './pop3-service.js';
import { adminService } from './admin-service.js';

export const allServices: ServiceDefinition[] = [
  ...smtpServices({ authenticator: authenticatorFor }),
  imapService,
  imapsService,
  pop3Service,
  pop3sService,
  manageSieveService,
  adminService,
];
