import type { ServiceName } from './names';
import { createPlaceholderService } from './placeholder';
import type { RelayServiceFactory } from './service';
import { createAuditService } from '../audit';
import { createDirectoryService } from '../directory';
import { createEscrowService } from '../escrow';
import { createKeysService } from '../keys';
import { createVaultService } from '../vault';

// The one place that says which code serves each prefix. Swap a placeholder for the real
// factory here when the service lands; server.ts and cli.ts need no change.
export const SERVICE_FACTORIES: Readonly<Record<ServiceName, RelayServiceFactory>> = {
  directory: createDirectoryService,
  keys: createKeysService,
  escrow: createEscrowService,
  vault: createVaultService,
  audit: (ctx) => createAuditService(ctx),
};
