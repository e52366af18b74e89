/**
 * This tab's check of the audit log at sign-in (shared/protocol/audit-memory.ts): the latest
 * checkpoint must extend the one this browser saw before. A fork is shown on every page by the
 * layout until the vault locks; any other failure (relay down) is kept quietly, since it says
 * nothing about the log's history.
 */
import { checkLatestCheckpoint, isAuditForkError, type RememberedCheckpoint } from '$shared/protocol/audit-memory';
import type { UnlockedAccount } from '$shared/protocol/account';
import { transport } from '../relay';
import { sealedCheckpointStore } from './checkpoint-store';

export interface ForkWarning {
  seenSize: number;
  servedSize: number;
  reason: string;
}

class LogMemory {
  fork = $state.raw<ForkWarning | null>(null);
  /** the checkpoint accepted at this sign-in */
  seen = $state.raw<RememberedCheckpoint | null>(null);
  error = $state<string | null>(null);
  private generation = 0;

  async check(account: UnlockedAccount): Promise<void> {
    const mine = ++this.generation;
    this.fork = null;
    this.error = null;
    try {
      const result = await checkLatestCheckpoint(transport, account.session, sealedCheckpointStore(account.account, account.localIndexKey, 'seen'));
      if (mine === this.generation) this.seen = result.remembered;
    } catch (e) {
      if (mine !== this.generation) return;
      if (isAuditForkError(e)) this.fork = { seenSize: e.seenSize, servedSize: e.servedSize, reason: e.reason };
      else this.error = e instanceof Error ? e.message : String(e);
    }
  }

  clear(): void {
    this.generation++;
    this.fork = null;
    this.seen = null;
    this.error = null;
  }
}

export const logMemory = new LogMemory();
